import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { isIP, type AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { CliError, describeCause } from "../cli/errors.js";
import type { OpenStore } from "../cli/stores.js";
import { isWorkflowForgeError } from "../errors.js";
import { cancelAction, deleteInstance, forRequest, listDeadLetters, listInstances, retryInstance, showInstance, signalAction, type ApiContext } from "./api.js";
import { decodedPath, HttpError, maxHeaderBytes, readJsonBody, send, sendJson } from "./http.js";
import type { UiOptions } from "./options.js";
import { loadPage, type PageFile } from "./page-files.js";

/** A running inspector: where it listens, and how to stop it. */
export interface Inspector {
  /** `http://127.0.0.1:4380/`: the page. */
  readonly url: string;
  readonly server: Server;
  /**
   * Aborts the store calls of the reads in flight, stops listening, waits for the actions in flight
   * (each within --timeout) and ends open connections. Does not close the store.
   */
  close(): Promise<void>;
}

const tokenHeader = "x-workflowforge-token";
const reads: Record<string, (api: ApiContext, query: URLSearchParams) => Promise<unknown>> = {
  "/api/instances": listInstances,
  "/api/instance": showInstance,
  "/api/dead-letters": listDeadLetters,
};
const actions: Record<string, (api: ApiContext, body: Record<string, unknown>) => Promise<unknown>> = {
  "/api/delete": deleteInstance,
  "/api/retry": retryInstance,
  "/api/cancel": cancelAction,
  "/api/signal": signalAction,
};

interface Served {
  readonly api: ApiContext;
  /** Aborted when the inspector stops: the store calls of requests in flight stop waiting. */
  readonly stopping: AbortSignal;
  readonly page: ReadonlyMap<string, PageFile>;
  readonly token: Buffer;
  /** The actions in flight, which stopping waits for (each bounded by --timeout). */
  readonly actions: Set<Promise<unknown>>;
}

/**
 * Serves the inspector for `store` on `options.host:options.port` and resolves once it listens.
 * Every stored string reaches the page as JSON data, never as markup. Actions are POST-only, need
 * the page's per-process token and a same-origin request, and are refused with 403 unless
 * `options.allowActions`.
 */
export async function startInspector(store: OpenStore, options: UiOptions): Promise<Inspector> {
  const tokenText = randomBytes(24).toString("hex");
  const page = await loadPage(tokenText);
  // Node's default of 16 KiB would refuse the link to a record with keys of a few thousand characters.
  // Each connection may hold a request line and headers of that size while they arrive: the
  // timeouts below are checked every second (Node checks every 30 s by default, so a slow sender
  // kept its buffer three times as long), and no more than 256 connections are kept at once.
  const server = createServer({ maxHeaderSize: maxHeaderBytes, connectionsCheckingInterval: 1_000 });
  server.maxConnections = 256;
  const stop = new AbortController();
  const served: Served = { api: { store, maxAttempts: options.maxAttempts, allowActions: options.allowActions }, stopping: stop.signal, page, token: Buffer.from(tokenText), actions: new Set() };
  server.on("request", (request: IncomingMessage, response: ServerResponse) => void handle(served, request, response));
  server.on("clientError", refuseUnparsed);
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((listening, failed) => {
    server.once("error", failed);
    server.listen(options.port, options.host, () => {
      server.off("error", failed);
      listening();
    });
  });
  const { port } = server.address() as AddressInfo;
  // Listening, the server can still fail to accept a connection (EMFILE: out of file descriptors).
  // Unheard, that error would end the process; said on stderr, the server goes on with the next.
  server.on("error", (error) => void process.stderr.write(`workflowforge ui: ${describeCause(error)}\n`));
  const shown = options.host.includes(":") ? `[${options.host}]` : options.host;
  const close = async (): Promise<void> => {
    // First, so that closing the store next finds no read of ours waiting: pool.end() of pg, or a
    // provider module's close that drains, would wait for each one until its deadline.
    stop.abort(new CliError("STORE", `${store.label}: the inspector stopped`));
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    // An action is not cut short (a delete gives back what it claimed), and its answer reaches the
    // page: its connection is ended after it, and the store closed after that.
    await Promise.allSettled([...served.actions]);
    server.closeAllConnections();
    await closed;
  };
  return { url: `http://${shown}:${port}/`, server, close };
}

async function handle(served: Served, request: IncomingMessage, response: ServerResponse): Promise<void> {
  try {
    if (!isAddressHost(request.headers.host)) throw new HttpError(403, "unexpected Host header: open the inspector by IP address or localhost");
    const { path, query } = decodedPath(request.url);
    const method = request.method ?? "GET";
    if (path in actions) return await act(served, request, response, path);
    if (method !== "GET" && method !== "HEAD") throw new HttpError(405, `${method} is not allowed here; the API reads with GET and acts with POST`);
    const file = served.page.get(path);
    if (file !== undefined) return send(response, 200, file.type, file.body);
    if (path === "/favicon.ico") return send(response, 204, "image/x-icon", "");
    const read = reads[path];
    if (read === undefined) throw new HttpError(404, "no such page or API");
    sendJson(response, 200, await read(forRequest(served.api, served.stopping), query));
  } catch (error) {
    fail(response, error);
  }
}

/**
 * True for an IP address or `localhost`, with any port or none. A page on another site that points
 * its own name at this machine (DNS rebinding) sends that name as Host, and is answered nothing.
 * The port is not checked: a port forward (`ssh -L 8080:127.0.0.1:4380`) or a proxy sends its own,
 * and a browser sends none for port 80.
 */
function isAddressHost(host: string | undefined): boolean {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::\d+)?$/.exec(host ?? "");
  if (match === null) return false;
  const name = match[1] ?? match[2] ?? "";
  return name === "localhost" || isIP(name) === (match[1] === undefined ? 4 : 6);
}

const unparsed: Record<string, readonly [status: string, error: string]> = {
  HPE_HEADER_OVERFLOW: ["431 Request Header Fields Too Large", `the request line and headers are over ${maxHeaderBytes} bytes`],
  ERR_HTTP_REQUEST_TIMEOUT: ["408 Request Timeout", "the request did not arrive in time"],
};

// A request Node cannot even parse gets a 4xx with a JSON error (as every answer of the API has) and
// its connection closed; the server goes on. The rest of the request is read and dropped rather than
// the socket destroyed, which would reset the connection before the client reads the answer.
function refuseUnparsed(error: Error & { code?: string }, socket: Duplex): void {
  // Node reports the same error again for every chunk that follows the answer.
  if (socket.writableEnded) return;
  if (!socket.writable) return void socket.destroy();
  const [status, message] = unparsed[error.code ?? ""] ?? ["400 Bad Request", "the request is not HTTP/1.1 that Node.js can read"];
  const body = JSON.stringify({ error: message });
  socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  // A client that never closes its side holds the socket no longer than this.
  setTimeout(() => socket.destroy(), 10_000).unref();
}

function sameToken(expected: Buffer, given: string | string[] | undefined): boolean {
  if (typeof given !== "string") return false;
  const buffer = Buffer.from(given);
  return buffer.length === expected.length && timingSafeEqual(buffer, expected);
}

async function act(served: Served, request: IncomingMessage, response: ServerResponse, path: string): Promise<void> {
  if (request.method !== "POST") throw new HttpError(405, "actions are POST requests");
  // Another site's page can send a POST to 127.0.0.1, but not with our token, nor a same-origin
  // Origin, nor (without a preflight we never grant) a JSON content type.
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `http://${request.headers.host ?? ""}`) throw new HttpError(403, "cross-origin request refused");
  if (!sameToken(served.token, request.headers[tokenHeader])) throw new HttpError(403, `missing or wrong ${tokenHeader} header: actions come from the inspector's page`);
  if (!/^application\/json\s*(;|$)/i.test(request.headers["content-type"] ?? "")) throw new HttpError(415, "actions take a JSON body (content-type: application/json)");
  if (!served.api.allowActions) throw new HttpError(403, "actions are disabled: start the inspector with --allow-actions to delete, retry, cancel or send events");
  const body = await readJsonBody(request);
  // An action whose body arrived after the inspector began to stop is refused, not started: stopping
  // waits for the actions in flight, and one started now could be cut by the store's closing.
  if (served.stopping.aborted) throw new HttpError(503, "the inspector is stopping: nothing was done");
  // Not aborted when the inspector stops: a delete cut between its claim and the delete could not
  // give the claim back. Closing the store still cuts a call waiting on a server that stopped answering.
  const acting = (actions[path] as (typeof actions)[string])(forRequest(served.api), body);
  served.actions.add(acting);
  try {
    sendJson(response, 200, await acting);
  } finally {
    served.actions.delete(acting);
  }
}

function fail(response: ServerResponse, error: unknown): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  if (error instanceof HttpError) return sendJson(response, error.status, { error: error.message });
  // The store's failures (unreachable, a timeout, a provider error) are the store's, not the
  // request's: 502, with the CLI's one-line message naming the store.
  if (error instanceof CliError || isWorkflowForgeError(error)) return sendJson(response, 502, { error: describeCause(error) });
  sendJson(response, 500, { error: `unexpected error: ${describeCause(error)}` });
}
