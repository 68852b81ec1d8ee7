import { RedisPersistenceProvider, type IoRedisLikeClient, type NodeRedisLikeClient } from "../persistence/providers/redis.js";
import type { StoreSpec } from "./args.js";
import { within } from "./deadline.js";
import { missingDriver, tryImportDriver } from "./drivers.js";
import type { Duration } from "./duration.js";
import { CliError, describeCause } from "./errors.js";
import { construct, noAnswer, parseValue, redact } from "./store-parts.js";
import type { OpenedStore } from "./stores.js";

interface RedisConnection {
  readonly client: IoRedisLikeClient | NodeRedisLikeClient;
  close(): Promise<void>;
  /** After a call ran out of time (serving only): closes the socket when it went silent, for the client to connect again. */
  readonly onLate?: () => void;
}

/**
 * A Redis store through ioredis, or node-redis when ioredis is not installed. A command fails fast
 * when the connection drops; a `serving` store (the inspector) connects again once it was
 * connected, at growing intervals up to 2 s, each request failing fast meanwhile; through ioredis
 * also when its connection went silent without closing (node-redis offers no way to tell).
 */
export async function openRedis({ url, options }: Extract<StoreSpec, { kind: "redis" }>, timeout: Duration, serving = false): Promise<OpenedStore> {
  const serverLabel = `Redis ${redact(url)}`;
  const label = options.keyPrefix === undefined ? serverLabel : `${serverLabel}, key prefix "${options.keyPrefix}"`;
  // Either client works with the provider; ioredis first, as the README names it first.
  const ioredis = await tryImportDriver("ioredis");
  const reconnectMs = serving ? (tries: number): number => Math.min(100 * tries, 2_000) : undefined;
  const connection = ioredis !== undefined ? await connectIoredis(ioredis.Redis, url, serverLabel, timeout, reconnectMs) : await connectNodeRedis(url, serverLabel, timeout, reconnectMs);
  try {
    const provider = construct("--key-prefix", () => new RedisPersistenceProvider({ client: connection.client, ...options }));
    const { onLate } = connection;
    return { provider, persistence: provider, label, close: () => connection.close(), whenLate: "check that the server is up and answering", ...(onLate === undefined ? {} : { onLate }) };
  } catch (error) {
    await connection.close().catch(() => undefined);
    throw error;
  }
}

type IoRedisConstructor = NonNullable<Awaited<ReturnType<typeof tryImportDriver<"ioredis">>>>["Redis"];

/** How long to wait before the `tries`th reconnection; undefined: never reconnect. */
type Reconnect = ((tries: number) => number) | undefined;

// ioredis reads the URL's database with parseInt: "/abc" became SELECT NaN, whose refusal it left
// unhandled, ending the process with a stack trace, and "/1x" quietly chose database 1.
function refuseOddDatabase(url: string): void {
  // ioredis also reads "//host:port/db" as a URL, and "/run/redis.sock?db=n" as a socket path with
  // a query; anything else it cannot read, it reports itself.
  const asUrl = url.startsWith("//") ? `redis:${url}` : url;
  const parsed = URL.canParse(asUrl) ? new URL(asUrl) : undefined;
  const isRedis = parsed !== undefined && (parsed.protocol === "redis:" || parsed.protocol === "rediss:");
  const query = isRedis ? parsed.searchParams : new URLSearchParams(url.includes("?") ? url.slice(url.indexOf("?") + 1) : "");
  const given: [string, string][] = [["path", isRedis ? parsed.pathname.slice(1) : ""], ["db parameter", query.get("db") ?? ""]];
  for (const [where, value] of given) {
    if (value !== "" && !/^\d+$/.test(value)) throw new Error(`the database (its ${where}) must be a whole number, got ${JSON.stringify(value)}`);
  }
}

async function connectIoredis(Redis: IoRedisConstructor, url: string, label: string, timeout: Duration, reconnectMs: Reconnect): Promise<RedisConnection> {
  // No offline queue, and no reconnecting for one command: a CLI should fail fast and say why, not
  // retry forever. A server that cannot be reached at first is reported at once either way.
  let connected = false;
  const retryStrategy = (tries: number): number | null => (connected ? (reconnectMs?.(tries) ?? null) : null);
  // Serving, a command sent before the connection was made again is not sent again: a write that
  // may have landed must not land twice (a retry refused as a conflict with itself).
  const options = { lazyConnect: true, retryStrategy, maxRetriesPerRequest: 1, connectTimeout: timeout.ms, enableOfflineQueue: false, autoResendUnfulfilledCommands: false };
  const client = parseValue("--redis", url, () => (refuseOddDatabase(url), new Redis(url, options)));
  let failure: unknown;
  // ioredis rejects connect() with "Connection is closed."; the 'error' event carries the reason.
  client.on("error", (error: unknown) => (failure ??= error));
  // disconnect() ends the socket politely, which leaves it open while the server, that may never
  // answer, does not close its side; destroying it lets the process exit.
  const drop = (): void => {
    client.disconnect();
    (client.stream as { destroy?: () => void } | undefined)?.destroy?.();
  };
  try {
    // connectTimeout covers the TCP connect only: a server that accepts and never answers would
    // leave connect() waiting for its ready check for good.
    await within(timeout, () => noAnswer(label, "Redis", timeout), () => client.connect());
    // ioredis reports a database it could not select (the URL's /99 on a server with 16) on its
    // 'error' event and stays in database 0: the commands would read and delete another database's records.
    if (failure !== undefined) throw new Error("connected with an error"); // reported below as `failure`
    connected = true;
  } catch (error) {
    drop();
    if (error instanceof CliError) throw error;
    throw new CliError("STORE", `cannot reach ${label}: ${describeCause(failure ?? error)}`, { cause: failure ?? error });
  }
  // Not quit(): it waits for a reply that a server which stopped answering never sends.
  const onLate = reconnectMs === undefined ? undefined : silentConnectionCheck(client, timeout);
  return { client, close: () => Promise.resolve(drop()), ...(onLate === undefined ? {} : { onLate }) };
}

/**
 * For a serving store whose call ran out of time: the connection may have gone silent (a firewall
 * or NAT that forgot it, a failover behind a virtual IP), which ioredis never notices, as it
 * connects again only when the socket closes. Or the server is only slow. A PING on the same
 * connection tells them apart: unanswered within twice the timeout, the socket is closed and
 * made again; answered, nothing is done.
 */
function silentConnectionCheck(client: InstanceType<IoRedisConstructor>, timeout: Duration): () => void {
  let probing = false;
  return () => {
    if (probing) return;
    probing = true;
    const stream = client.stream as { destroy?: () => void } | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const silent = new Promise<void>((_, reject) => (timer = setTimeout(() => reject(new Error("silent")), 2 * timeout.ms)));
    void Promise.race([client.ping(), silent])
      .then(
        () => undefined,
        () => (client.stream === stream ? stream?.destroy?.() : undefined),
      )
      .finally(() => {
        clearTimeout(timer);
        probing = false;
      });
  };
}

// node-redis 4 closes at once with disconnect(), 5 and later with destroy().
interface NodeRedisClient extends NodeRedisLikeClient {
  connect(): Promise<unknown>;
  on(event: "error", listener: (error: unknown) => void): unknown;
  destroy?(): unknown;
  disconnect?(): Promise<unknown>;
}

async function connectNodeRedis(url: string, label: string, timeout: Duration, reconnectMs: Reconnect): Promise<RedisConnection> {
  const redis = await tryImportDriver("redis");
  if (redis === undefined) throw missingDriver("--redis", ["ioredis", "redis"]);
  // An Error stops node-redis reconnecting (and fails connect() with it): so before the first connection.
  let connected = false;
  const reconnectStrategy = reconnectMs === undefined ? false : (tries: number, cause?: Error): number | Error => (connected ? reconnectMs(tries) : (cause ?? new Error("not connected")));
  const create = () => redis.createClient({ url, disableOfflineQueue: reconnectMs !== undefined, socket: { reconnectStrategy, connectTimeout: timeout.ms } });
  const client = parseValue("--redis", url, create) as unknown as NodeRedisClient;
  client.on("error", () => undefined); // connect() rejects with the same error
  const close = async (): Promise<void> => void (await (client.destroy ?? client.disconnect)?.call(client));
  try {
    await within(timeout, () => noAnswer(label, "Redis", timeout), () => client.connect());
    connected = true;
  } catch (error) {
    await close().catch(() => undefined);
    if (error instanceof CliError) throw error;
    throw new CliError("STORE", `cannot reach ${label}: ${describeCause(error)}`, { cause: error });
  }
  return { client, close };
}
