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

/** The largest request body read; an action's body is two keys. */
export const maxBodyBytes = 64 * 1024;

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

/** A string field of a body or a query, present and at most 10,000 characters. */
export function requireString(value: unknown, name: string): string {
  if (typeof value !== "string") throw new HttpError(400, `${name} must be a string`);
  if (value.length > 10_000) throw new HttpError(400, `${name} is longer than 10000 characters`);
  return value;
}

/** {@link requireString}, and not blank: keys and event names are refused blank by the library, as bad input (400). */
export function requireNonBlank(value: unknown, name: string): string {
  const text = requireString(value, name);
  if (text.trim() === "") throw new HttpError(400, `${name} must not be blank`);
  return text;
}

/** The request's path, percent-decoded; 400 for a malformed escape or an encoded NUL. */
export function decodedPath(rawUrl: string | undefined): { path: string; query: URLSearchParams } {
  const url = rawUrl ?? "/";
  const at = url.indexOf("?");
  const rawPath = at === -1 ? url : url.slice(0, at);
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw new HttpError(400, "the request path is not valid percent-encoded UTF-8");
  }
  if (path.includes("\0")) throw new HttpError(400, "the request path holds a NUL character");
  return { path, query: new URLSearchParams(at === -1 ? "" : url.slice(at + 1)) };
}
