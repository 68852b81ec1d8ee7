import type { Duration } from "./duration.js";
import { describeCause, usageError } from "./errors.js";

/**
 * The connection string with every password replaced by `***`, for messages: the userinfo's, up
 * to the last `@` before the host (pg and ioredis take an unencoded `@` in a password, and one
 * typed with a `/` or `?` must not show either; an `@` in a named query parameter's value is not
 * that one), and any parameter whose name ends in `password` or `passphrase` (`sslpassword=`).
 */
export function redact(url: string): string {
  return redactParameters(redactUserinfo(url));
}

// An `@` that can end the userinfo: a host and port follow it (never an `@`, `/`, `?` or `#`), then
// a path, a query, a fragment or the end.
const beforeHost = /@(?=[^@/?#\s]*(?:[/?#]|$))/g;
// A named query parameter, `?name=` or (once a `?` began the query) `&name=`.
const namedParameter = /[?&][^=&?#@/\s]*=/;

function redactUserinfo(url: string): string {
  const start = url.indexOf("//") + 2;
  if (start === 1) return url;
  // An `@` after a named parameter is in that parameter's value (`application_name=ops@host`,
  // `password=p@ss`), not the userinfo's: a password typed with a `?` but no `?name=` is still hidden.
  const query = url.indexOf("?", start);
  const parameter = query === -1 ? -1 : url.slice(query).search(namedParameter);
  const limit = parameter === -1 ? url.length : query + parameter;
  const end = [...url.slice(start, limit).matchAll(beforeHost)].at(-1)?.index;
  if (end === undefined) return url;
  const colon = url.indexOf(":", start);
  if (colon === -1 || colon > start + end) return url;
  return `${url.slice(0, colon + 1)}***${url.slice(start + end)}`;
}

const redactParameters = (url: string): string => url.replace(/((?:^|[?&\s])[^=&?#\s]*(?:password|passphrase)=)[^&\s]*/gi, "$1***");

/**
 * `url`, unless pg would read it against `postgres://base`: a value without its scheme
 * (`127.0.0.1:5432/app`) names the host "base", which pg would then look up in DNS. pg takes a
 * postgres: or postgresql: URL, a socket: URL, and the path of a socket's directory.
 */
export function requirePostgresUrl(url: string, command: string): string {
  if (/^(?:postgres(?:ql)?|socket):/i.test(url) || url.startsWith("/")) return url;
  // Read as the rest of a URL, so that a password typed before an `@` is hidden as in one.
  throw usageError(`--postgres ${redact(`//${url}`).slice(2)} has no postgres:// or postgresql:// scheme: pass a URL, e.g. postgres://app@127.0.0.1:5432/app`, command);
}

/** The providers validate their options with a TypeError naming the option; here those came from `flags`. */
export function construct<T>(flags: string, create: () => T): T {
  try {
    return create();
  } catch (error) {
    if (error instanceof TypeError) throw usageError(`invalid ${flags}: ${error.message}`);
    throw error;
  }
}

/**
 * What `parse` returns; a value it throws for (a driver that cannot read the URL, a port out of
 * range, a bad percent escape) is the command line's mistake: a usage error naming `flag` and the
 * value, passwords hidden.
 */
export function parseValue<T>(flag: string, value: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw usageError(`invalid ${flag} ${redact(value)}: ${redact(describeCause(error))}`);
  }
}

/** The message for a server that accepted no connection, or never answered, within the timeout. */
export function noAnswer(server: string, kind: string, timeout: Duration): string {
  return `cannot reach ${server}: no answer within ${timeout.text}; check that a ${kind} server listens at that address and is reachable, or raise --timeout`;
}
