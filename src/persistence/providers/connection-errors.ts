import { messageOf } from "../../errors.js";
import { maxTimerMs } from "../../internal/validate.js";

// What a provider says when it cannot use its store at all: which store, at which address, and
// what to check. Addresses are read from the client's own configuration, structurally (no driver
// is imported), and never carry a password: a connection string is parsed and only its host,
// port, database and user are kept.

type Fields = Readonly<Record<string, unknown>>;

const fieldsOf = (value: unknown): Fields | undefined => ((typeof value === "object" || typeof value === "function") && value !== null ? (value as Fields) : undefined);
const textOf = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);
function portOf(value: unknown): string | undefined {
  if (typeof value === "number" && Number.isInteger(value)) return String(value);
  return /^\d+$/.test(textOf(value) ?? "") ? (value as string) : undefined;
}
// A failure's own text, without a closing full stop (the hint follows). Some have none: Node's
// AggregateError of a connect to several addresses (it has a code), node-redis's TimeoutError.
function reasonOf(error: unknown): string {
  const text = messageOf(error) || textOf(fieldsOf(error)?.code) || (error instanceof Error ? error.constructor.name : "unknown error");
  return text.replace(/\.$/, "");
}

function postgresAddress(host: string | undefined, port: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  // A host starting with "/" is the directory of a Unix socket.
  return host.startsWith("/") ? `socket ${host}/.s.PGSQL.${port ?? 5432}` : hostPort(host, port);
}

function hostPort(host: string, port: string | undefined): string {
  const name = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return port === undefined ? name : `${name}:${port}`;
}

interface Target {
  readonly host?: string | undefined;
  readonly port?: string | undefined;
  readonly database?: string | undefined;
  readonly user?: string | undefined;
}

// postgres://user:password@host:port/database?host=/socket/dir, keeping everything but the password.
function parseConnectionString(text: string | undefined): Target {
  if (text === undefined) return {};
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return {};
  }
  const decode = (part: string): string | undefined => {
    try {
      return textOf(decodeURIComponent(part));
    } catch {
      return undefined;
    }
  };
  return {
    host: textOf(url.searchParams.get("host")) ?? textOf(url.hostname.replace(/^\[(.*)\]$/, "$1")),
    port: portOf(url.port),
    database: decode(url.pathname.slice(1)),
    user: decode(url.username),
  };
}

// Where a failed connect went, from Node's error (an AggregateError holds one per address tried).
function targetOfError(error: unknown): Target {
  const fields = fieldsOf(error);
  const first = Array.isArray(fields?.errors) ? fieldsOf(fields.errors[0]) : undefined;
  return { host: textOf(fields?.address) ?? textOf(fields?.hostname) ?? textOf(first?.address), port: portOf(fields?.port) ?? portOf(first?.port) };
}

function postgresTarget(client: unknown, error: unknown): Target {
  // A pg Client or PoolClient has its parameters parsed (connection string and defaults applied);
  // a pg Pool keeps the options it was given, where pg lets a connection string win.
  const parameters = fieldsOf(fieldsOf(client)?.connectionParameters);
  const options = fieldsOf(fieldsOf(client)?.options);
  const parsed = parameters === undefined ? parseConnectionString(textOf(options?.connectionString)) : {};
  const given = parameters ?? options;
  const fromError = targetOfError(error);
  return {
    host: parsed.host ?? textOf(given?.host) ?? fromError.host,
    port: parsed.port ?? portOf(given?.port) ?? fromError.port,
    database: parsed.database ?? textOf(given?.database),
    user: parsed.user ?? textOf(given?.user),
  };
}

const unreachable: ReadonlySet<unknown> = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"]);

/**
 * What to tell a user whose Postgres client could not connect: the server unreachable (refused,
 * unknown host, timed out), the login refused (28P01, 28000) or the database missing (3D000).
 * Undefined for any other failure, which keeps the driver's own message.
 */
export function postgresConnectionDetail(client: unknown, error: unknown): string | undefined {
  const code = fieldsOf(error)?.code;
  // pg's Pool reports a connect that outlived connectionTimeoutMillis with this text and no code.
  const timedOut = messageOf(error) === "Connection terminated due to connection timeout";
  if (!unreachable.has(code) && !timedOut && code !== "28P01" && code !== "28000" && code !== "3D000") return undefined;
  const { host, port, database, user } = postgresTarget(client, error);
  const address = postgresAddress(host, port);
  const server = address === undefined ? "the PostgreSQL server the client points at" : `PostgreSQL at ${address}`;
  const reason = reasonOf(error);
  if (code === "3D000") {
    const create = database === undefined ? "Create the database" : `Create the database (CREATE DATABASE "${database.replaceAll('"', '""')}")`;
    return `${server} has no database${database === undefined ? " by that name" : ` "${database}"`}: ${reason}. ${create} or give the client one that exists`;
  }
  if (code === "28P01" || code === "28000") {
    const hba = code === "28000" ? ", and that pg_hba.conf lets that user connect from this host" : "";
    return `${server} refused the login${user === undefined ? "" : ` of user "${user}"`}: ${reason}. Check the user and password the client was given${hba}`;
  }
  const names = [database === undefined ? "" : `database "${database}"`, user === undefined ? "" : `user "${user}"`].filter((name) => name !== "").join(", ");
  return `cannot reach ${server}${names === "" ? "" : ` (${names})`}: ${reason}. Is the server running and reachable at ${address ?? "the host and port the client was given"}?`;
}

/** A Redis command that got no reply within the provider's `commandTimeoutMs` (or its own, longer, deadline). */
export class NoReplyError extends Error {
  override readonly name = "NoReplyError";
  constructor(readonly waitedMs: number) {
    super(`no reply within ${waitedMs} ms`);
  }
}

/**
 * `send`, rejecting with NoReplyError when the reply takes longer than `ms` (or the call's own
 * `deadlineMs`). The command itself is not withdrawn: a client that queued it may still send it later.
 */
export function withDeadline(send: (args: string[]) => Promise<unknown>, ms: number): (args: string[], deadlineMs?: number) => Promise<unknown> {
  return (args, deadlineMs = ms) => {
    const sent = send(args);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new NoReplyError(deadlineMs)), deadlineMs);
      Promise.resolve(sent).then(
        (reply) => (clearTimeout(timer), resolve(reply)),
        (error: unknown) => (clearTimeout(timer), reject(error as Error)),
      );
    });
  };
}

/**
 * How long a Redis claim waits for its reply: until its lease ends (at most the longest timer), as
 * the server may still run it in time, and a client that lost its connection meanwhile may send it
 * again; the coordinator gives back a page it stopped waiting for only once it has it. After the
 * lease the server takes nothing with it.
 */
export function claimDeadlineMs(timeoutMs: number, leaseExpiresAt: string): number {
  return Math.max(timeoutMs, Math.min(maxTimerMs, Date.parse(leaseExpiresAt) - Date.now()));
}

/**
 * Why a claim is not handed to a client that is reconnecting, or undefined: queued until it
 * reconnects, the claim could run within its lease with no one waiting for it, counting an attempt
 * for a run nobody makes. ioredis is reconnecting while its status is "reconnecting" (between
 * attempts) or "connecting" with `retryAttempts` counted (an attempt, which lasts up to its
 * connectTimeout); node-redis while it is open but not ready. A client making its first
 * connection (ioredis "connecting" with no retry yet, or "wait" when lazy) is given the claim.
 */
export function unqueuedClaim(client: unknown): Error | undefined {
  const { status, retryAttempts, isReady, isOpen } = fieldsOf(client) ?? {};
  const ioredis = status === "reconnecting" || (status === "connecting" && typeof retryAttempts === "number" && retryAttempts > 0);
  if (!(ioredis || (status === undefined && isOpen === true && isReady === false))) return undefined;
  return new Error("a claim is not queued while the client reconnects, as it could run after its caller gave up on it");
}

interface RedisState {
  readonly driver: "ioredis" | "node-redis" | undefined;
  /** Undefined when the client does not say. */
  readonly ready: boolean | undefined;
  /** How the client describes its connection, e.g. `ioredis status "reconnecting"`. */
  readonly state: string | undefined;
  readonly address: string | undefined;
}

function redisAddress(options: Fields | undefined, driver: RedisState["driver"]): string | undefined {
  // node-redis parses its url into socket; ioredis keeps host, port and path at the top.
  const socket = fieldsOf(options?.socket) ?? options;
  const path = textOf(socket?.path);
  if (path !== undefined) return `socket ${path}`;
  const sentinels = options?.sentinels;
  if (Array.isArray(sentinels) && sentinels.length > 0) {
    const via = sentinels.map((s) => hostPort(textOf(fieldsOf(s)?.host) ?? "localhost", portOf(fieldsOf(s)?.port) ?? "26379")).join(", ");
    return `master "${textOf(options?.name) ?? "?"}" via sentinels ${via}`;
  }
  const url = parseConnectionString(textOf(options?.url));
  const host = textOf(socket?.host) ?? url.host;
  const port = portOf(socket?.port) ?? url.port;
  if (host === undefined && port === undefined && driver === undefined) return undefined;
  return hostPort(host ?? "localhost", port ?? "6379");
}

function redisState(client: unknown): RedisState {
  const fields = fieldsOf(client);
  const { status, isReady, isOpen } = fields ?? {};
  const options = fieldsOf(fields?.options);
  if (typeof status === "string") return { driver: "ioredis", ready: status === "ready", state: `ioredis status "${status}"`, address: redisAddress(options, "ioredis") };
  // node-redis before 4.1 has isOpen but no isReady.
  if (isOpen === false) return { driver: "node-redis", ready: false, state: "node-redis client closed", address: redisAddress(options, "node-redis") };
  if (typeof isReady === "boolean") {
    return { driver: "node-redis", ready: isReady, state: `node-redis client ${isReady ? "ready" : "not ready"}`, address: redisAddress(options, "node-redis") };
  }
  if (typeof isOpen === "boolean") return { driver: "node-redis", ready: undefined, state: undefined, address: redisAddress(options, "node-redis") };
  return { driver: undefined, ready: undefined, state: undefined, address: redisAddress(options, undefined) };
}

const failFast = {
  ioredis: "new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false })",
  "node-redis": "createClient({ url, socket: { reconnectStrategy: false } })",
} as const;

/**
 * What to tell a user whose Redis command failed because no server could be used: no reply within
 * `commandTimeoutMs` (NoReplyError), a client that says it is not connected, or credentials the
 * server refused. Undefined for any other failure, which keeps the driver's own message.
 */
export function redisConnectionDetail(client: unknown, error: unknown, timeoutMs: number): string | undefined {
  const { driver, ready, state, address } = redisState(client);
  const server = address === undefined ? "the Redis server" : `Redis at ${address}`;
  const reachable = `that the server is running and reachable${address === undefined ? "" : ` at ${address}`}`;
  const reason = reasonOf(error);
  if (error instanceof NoReplyError) {
    const limit = error.waitedMs === timeoutMs ? "commandTimeoutMs" : "a claim waits until its lease ends";
    const waited = `${server} did not answer within ${error.waitedMs} ms (${limit}${state === undefined ? "" : `; ${state}`})`;
    const raise = error.waitedMs === timeoutMs ? " or raise commandTimeoutMs" : "";
    if (ready === true) return `${waited}: the client is connected, so the server is slow or blocked; look for a long command (SLOWLOG GET)${raise}`;
    const hint = driver === undefined ? "" : `, or create the client to fail at once while it is down: ${failFast[driver]}`;
    return `${waited}: check ${reachable}${hint}`;
  }
  if (/^(NOAUTH|WRONGPASS)\b/.test(reason)) return `${server} refused the client's credentials: ${reason}. Check the user and password the client was given`;
  if (ready !== false) return undefined;
  const connect = driver === "ioredis" ? 'wait for its "ready" event' : "await client.connect()";
  return `the client is not connected to ${server} (${state ?? "not ready"}): ${reason}. Check ${reachable}, and that the client was connected before use (${connect}) and not closed`;
}

// Databases without a file of their own: a temporary one (named "") and an in-memory one.
const sqliteUnnamed: Readonly<Record<string, string>> = { "": "the temporary database", ":memory:": "the in-memory database" };

/**
 * What to tell a user whose SQLite file cannot be written: read-only (SQLITE_READONLY*) or locked
 * by another connection past the busy timeout (SQLITE_BUSY*). Undefined for any other failure.
 */
export function sqliteFileDetail(database: unknown, error: unknown): string | undefined {
  const code = textOf(fieldsOf(error)?.code);
  if (code === undefined || !/^SQLITE_(READONLY|BUSY)/.test(code)) return undefined;
  const name = textOf(fieldsOf(database)?.name);
  const file = name === undefined || name === ":memory:" ? sqliteUnnamed[name ?? ""] : `the database file ${JSON.stringify(name)}`;
  const reason = `${code}: ${reasonOf(error)}`;
  if (code.startsWith("SQLITE_READONLY")) {
    return (
      `${file} cannot be written (${reason}). Check that the Database was not opened with { readonly: true }, and that this ` +
      "process may write the file and its directory, where SQLite keeps the -wal and -shm files"
    );
  }
  return (
    `${file} is locked by another connection (${reason}) for longer than the busy timeout. Look for a process or connection ` +
    "holding a transaction open, or wait longer: new Database(file, { timeout: ms })"
  );
}
