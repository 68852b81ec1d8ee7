import type { IncomingMessage, ServerResponse } from "node:http";

/** A request the inspector answers with a 4xx and a JSON error; the server keeps serving. */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
  }
}

// The page loads only its own files and talks only to its own server: an injected tag could neither
// run inline script nor reach anywhere else, on top of the page never parsing stored strings as HTML.
const securityHeaders = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "same-origin",
  "cache-control": "no-store",
} as const;

/** Answers with `body`, always with the security headers. */
export function send(response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { ...securityHeaders, "content-type": type, "content-length": Buffer.byteLength(body) });
  response.end(body);
}

/** Answers with `value` as JSON. */
export function sendJson(response: ServerResponse, status: number, value: unknown): void {
  send(response, status, "application/json; charset=utf-8", JSON.stringify(value));
}

/**
 * The longest query string read. Keys travel in it (a link to an instance, the cursor of the next
 * page), and a store takes keys of any length, so the bound is the browser's: Chromium refuses a
 * URL over 2 MiB. 1 MiB holds a key pair of 110,000 characters of any kind (percent-encoded, a CJK
 * character is 9 bytes) or of 1,000,000 ASCII letters and digits.
 */
export const maxQueryBytes = 1024 * 1024;

/**
 * What Node.js reads of a request's line and headers: the query, with room for the headers a
 * browser sends beside it (cookies set by other servers on the same host among them).
 */
export const maxHeaderBytes = maxQueryBytes + 64 * 1024;

/** The largest request body read: an action names the same keys a query does, and as long. */
export const maxBodyBytes = maxQueryBytes;

/** The body parsed as a JSON object; 413 past {@link maxBodyBytes}, 400 for anything but a JSON object. */
export async function readJsonBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  const declared = Number(request.headers["content-length"] ?? 0);
  if (declared > maxBodyBytes) throw new HttpError(413, `the request body is over ${maxBodyBytes} bytes`);
  const body = await readBody(request);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    throw new HttpError(400, "the request body is not JSON in UTF-8");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new HttpError(400, "the request body is not a JSON object");
  return value as Record<string, unknown>;
}

// Past the limit the rest is read and dropped rather than the socket destroyed: the client then
// receives the 413 instead of a reset connection.
function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((read, failed) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= maxBodyBytes) return void chunks.push(chunk);
      request.off("data", onData);
      request.resume();
      failed(new HttpError(413, `the request body is over ${maxBodyBytes} bytes`));
    };
    request.on("data", onData);
    request.once("end", () => read(Buffer.concat(chunks)));
    request.once("error", failed);
  });
}

/**
 * A string field of a body or a query, present and at most `maxChars` characters: 10,000 for a
 * search or an event's name; a key is bounded only by the request's size, as a store takes any.
 */
export function requireString(value: unknown, name: string, maxChars = 10_000): string {
  if (typeof value !== "string") throw new HttpError(400, `${name} must be a string`);
  if (value.length > maxChars) throw new HttpError(400, `${name} is longer than ${maxChars} characters`);
  return value;
}

/** {@link requireString}, and not blank: keys and event names are refused blank by the library, as bad input (400). */
export function requireNonBlank(value: unknown, name: string, maxChars?: number): string {
  const text = requireString(value, name, maxChars);
  if (text.trim() === "") throw new HttpError(400, `${name} must not be blank`);
  return text;
}

/**
 * The request's path, percent-decoded, and its query; 400 for a malformed escape (in either) or an
 * encoded NUL in the path, 414 for a query over {@link maxQueryBytes}. URLSearchParams would read a
 * byte that is not UTF-8 as U+FFFD, and so name another instance than the one asked for.
 */
export function decodedPath(rawUrl: string | undefined): { path: string; query: URLSearchParams } {
  const url = rawUrl ?? "/";
  const at = url.indexOf("?");
  const path = decoded(at === -1 ? url : url.slice(0, at), "path");
  if (path.includes("\0")) throw new HttpError(400, "the request path holds a NUL character");
  const rawQuery = at === -1 ? "" : url.slice(at + 1);
  if (rawQuery.length > maxQueryBytes) throw new HttpError(414, `the query string is over ${maxQueryBytes} bytes`);
  decoded(rawQuery, "query string");
  return { path, query: new URLSearchParams(rawQuery) };
}

function decoded(text: string, part: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new HttpError(400, `the request ${part} is not valid percent-encoded UTF-8`);
  }
}
