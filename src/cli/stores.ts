import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { ListOptions } from "../persistence/list-options.js";
import type { SnapshotFilter } from "../persistence/provider.js";
import { FilePersistenceProvider } from "../persistence/providers/file.js";
import { PostgresPersistenceProvider } from "../persistence/providers/postgres.js";
import { RedisPersistenceProvider, type IoRedisLikeClient, type NodeRedisLikeClient } from "../persistence/providers/redis.js";
import { SqlitePersistenceProvider } from "../persistence/providers/sqlite.js";
import type { WorkflowExecutionSnapshot } from "../persistence/snapshot.js";
import type { StoreSpec } from "./args.js";
import { importDriver, missingDriver, tryImportDriver } from "./drivers.js";
import { CliError, describeCause, usageError } from "./errors.js";

/** The provider calls the commands make; every shipped provider has them. */
export interface InspectedProvider {
  list(filter: SnapshotFilter, signal: undefined, options: ListOptions): Promise<WorkflowExecutionSnapshot[]>;
  tryLoad(foundryExecutionId: string, workflowId: string): Promise<WorkflowExecutionSnapshot | undefined>;
  delete(foundryExecutionId: string, workflowId: string): Promise<void>;
}

/** A provider over an open connection, and how to let go of that connection. */
export interface OpenStore {
  readonly provider: InspectedProvider;
  /** Names the store in messages, passwords hidden: `PostgreSQL postgres://app:***@db/app, table "x"`. */
  readonly label: string;
  close(): Promise<void>;
}

// Connecting to a host that drops packets would otherwise wait for the OS timeout (minutes).
const connectTimeoutMs = 10_000;

/**
 * Opens the store, checks that it is there (the directory or file exists, the server answers, the
 * table exists) and returns its provider. Nothing is created: an inspector pointed at the wrong
 * place must say so rather than create an empty store there.
 */
export function openStore(spec: StoreSpec): Promise<OpenStore> {
  switch (spec.kind) {
    case "dir":
      return openDirectory(spec.path);
    case "sqlite":
      return openSqlite(spec);
    case "postgres":
      return openPostgres(spec);
    case "redis":
      return openRedis(spec);
  }
}

/** The connection string with its password replaced by `***`, for messages. */
export function redact(url: string): string {
  return url.replace(/(\/\/[^/@:]*:)[^/@]*@/, "$1***@").replace(/([?&\s]password=)[^&\s]*/gi, "$1***");
}

// The providers validate their options with a TypeError naming the option; here those came from flags.
function construct<T>(flags: string, create: () => T): T {
  try {
    return create();
  } catch (error) {
    if (error instanceof TypeError) throw usageError(`invalid ${flags}: ${error.message}`);
    throw error;
  }
}

async function requireExisting(path: string, kind: "file" | "directory", label: string): Promise<void> {
  const info = await stat(path).catch((error: unknown) => {
    const missing = (error as { code?: unknown }).code === "ENOENT";
    throw new CliError("STORE", `${label} ${missing ? "does not exist" : `cannot be read: ${describeCause(error)}`}`, { cause: error });
  });
  if (kind === "directory" ? !info.isDirectory() : !info.isFile()) throw new CliError("STORE", `${label} is not a ${kind}`);
}

async function openDirectory(path: string): Promise<OpenStore> {
  const label = `directory ${resolve(path)}`;
  await requireExisting(path, "directory", label);
  return { provider: new FilePersistenceProvider({ directory: path }), label, close: () => Promise.resolve() };
}

async function openSqlite({ file, options }: Extract<StoreSpec, { kind: "sqlite" }>): Promise<OpenStore> {
  const fileLabel = `SQLite file ${resolve(file)}`;
  await requireExisting(file, "file", fileLabel);
  const { default: Database } = await importDriver("better-sqlite3", "--sqlite");
  let database: InstanceType<typeof Database>;
  try {
    database = new Database(file, { fileMustExist: true });
  } catch (error) {
    throw new CliError("STORE", `cannot open ${fileLabel}: ${describeCause(error)}`, { cause: error });
  }
  try {
    const provider = construct("--table-name", () => new SqlitePersistenceProvider({ database, ...options }));
    const label = `${fileLabel}, table "${provider.tableName}"`;
    let present: boolean;
    try {
      present = database.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(provider.tableName) !== undefined;
    } catch (error) {
      throw new CliError("STORE", `cannot read ${fileLabel}: ${describeCause(error)}`, { cause: error });
    }
    if (!present) throw new CliError("STORE", `${fileLabel} has no table "${provider.tableName}" (pass --table-name if the provider uses another)`);
    return { provider, label, close: () => Promise.resolve(void database.close()) };
  } catch (error) {
    database.close();
    throw error;
  }
}

async function openPostgres({ url, options }: Extract<StoreSpec, { kind: "postgres" }>): Promise<OpenStore> {
  const { default: pg } = await importDriver("pg", "--postgres");
  const serverLabel = `PostgreSQL ${redact(url)}`;
  const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: connectTimeoutMs });
  // An idle connection the server drops must not crash the process with an unhandled 'error'.
  pool.on("error", () => undefined);
  try {
    const provider = construct("--table-name or --schema", () => new PostgresPersistenceProvider({ client: pool, ...options }));
    const table = provider.schema === undefined ? `"${provider.tableName}"` : `"${provider.schema}"."${provider.tableName}"`;
    const label = `${serverLabel}, table ${table}`;
    const { rows } = await pool.query<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [table]).catch((error: unknown) => {
      throw new CliError("STORE", `cannot reach ${serverLabel}: ${describeCause(error)}`, { cause: error });
    });
    if (rows[0]?.present !== true) throw new CliError("STORE", `${serverLabel} has no table ${table} (pass --table-name or --schema if the provider uses another)`);
    return { provider, label, close: () => pool.end() };
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
}

interface RedisConnection {
  readonly client: IoRedisLikeClient | NodeRedisLikeClient;
  close(): Promise<void>;
}

async function openRedis({ url, options }: Extract<StoreSpec, { kind: "redis" }>): Promise<OpenStore> {
  const serverLabel = `Redis ${redact(url)}`;
  const label = options.keyPrefix === undefined ? serverLabel : `${serverLabel}, key prefix "${options.keyPrefix}"`;
  // Either client works with the provider; ioredis first, as the README names it first.
  const ioredis = await tryImportDriver("ioredis");
  const connection = ioredis !== undefined ? await connectIoredis(ioredis.Redis, url, serverLabel) : await connectNodeRedis(url, serverLabel);
  try {
    const provider = construct("--key-prefix", () => new RedisPersistenceProvider({ client: connection.client, ...options }));
    return { provider, label, close: () => connection.close() };
  } catch (error) {
    await connection.close().catch(() => undefined);
    throw error;
  }
}

type IoRedisConstructor = NonNullable<Awaited<ReturnType<typeof tryImportDriver<"ioredis">>>>["Redis"];

async function connectIoredis(Redis: IoRedisConstructor, url: string, label: string): Promise<RedisConnection> {
  // No reconnecting and no offline queue: a CLI should fail fast and say why, not retry forever.
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 1, connectTimeout: connectTimeoutMs, enableOfflineQueue: false });
  let failure: unknown;
  // ioredis rejects connect() with "Connection is closed."; the 'error' event carries the reason.
  client.on("error", (error: unknown) => (failure ??= error));
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw new CliError("STORE", `cannot reach ${label}: ${describeCause(failure ?? error)}`, { cause: failure ?? error });
  }
  return { client, close: () => client.quit().then(() => undefined, () => client.disconnect()) };
}

// node-redis 4 closes with quit(), 5 and later with close().
interface NodeRedisClient extends NodeRedisLikeClient {
  connect(): Promise<unknown>;
  on(event: "error", listener: (error: unknown) => void): unknown;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): unknown;
}

async function connectNodeRedis(url: string, label: string): Promise<RedisConnection> {
  const redis = await tryImportDriver("redis");
  if (redis === undefined) throw missingDriver("--redis", ["ioredis", "redis"]);
  const client = redis.createClient({ url, socket: { reconnectStrategy: false, connectTimeout: connectTimeoutMs } }) as unknown as NodeRedisClient;
  client.on("error", () => undefined); // connect() rejects with the same error
  try {
    await client.connect();
  } catch (error) {
    client.destroy?.();
    throw new CliError("STORE", `cannot reach ${label}: ${describeCause(error)}`, { cause: error });
  }
  const close = async (): Promise<void> => void (await (client.close ?? client.quit)?.call(client));
  return { client, close };
}
