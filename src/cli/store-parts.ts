import type { Duration } from "./duration.js";
import { describeCause, usageError } from "./errors.js";

// What follows the userinfo: `@`, a host and port (never an `@`, `/`, `?` or `#`), a path, and a
// query whose first parameter has a name (an `@` in a parameter's value is not the userinfo's).
const afterUserinfo = /^@[^@/?#\s]*(?:\/[^@?#\s]*)?(?:[?#][^=&@\s]*=.*)?$/s;

/**
 * The connection string with every password replaced by `***`, for messages: the userinfo's, up
 * to the last `@` before the host (pg and ioredis take an unencoded `@` in a password, and one
 * typed with a `/` or `?` must not show either), and any parameter whose name ends in `password`
 * or `passphrase` (`sslpassword=`).
 */
export function redact(url: string): string {
  return redactParameters(redactUserinfo(url));
}

function redactUserinfo(url: string): string {
  const start = url.indexOf("//") + 2;
  if (start === 1) return url;
  const ats = [...url.slice(start).matchAll(/@/g)].map((match) => start + match.index);
  // The first `@` from which the rest reads as host, path and query; else the last one.
  const end = ats.find((at) => afterUserinfo.test(url.slice(at))) ?? ats.at(-1);
  if (end === undefined) return url;
  const colon = url.indexOf(":", start);
  if (colon === -1 || colon > end) return url;
  return `${url.slice(0, colon + 1)}***${url.slice(end)}`;
}

const redactParameters = (url: string): string => url.replace(/((?:^|[?&\s])[^=&?#\s]*(?:password|passphrase)=)[^&\s]*/gi, "$1***");

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
