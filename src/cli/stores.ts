import { resolve } from "node:path";
import type { ListOptions } from "../persistence/list-options.js";
import type { SnapshotFilter } from "../persistence/provider.js";
import { PostgresPersistenceProvider } from "../persistence/providers/postgres.js";
import { SqlitePersistenceProvider } from "../persistence/providers/sqlite.js";
import type { WorkflowExecutionSnapshot } from "../persistence/snapshot.js";
import type { StoreSpec } from "./args.js";
import type { ProviderCapabilities, WorkflowPersistenceProvider } from "../persistence/provider.js";
import { boundedActions, boundedProvider, within } from "./deadline.js";
import { openDirectory, requireExisting } from "./dir-store.js";
import { importDriver } from "./drivers.js";
import type { Duration } from "./duration.js";
import { CliError, describeCause } from "./errors.js";
import { instanceActions, type InstanceActions } from "./instance-actions.js";
import { openProviderModule } from "./provider-store.js";
import { openRedis } from "./redis-store.js";
import { construct, noAnswer, parseValue, redact } from "./store-parts.js";

/** The provider calls the commands make; every shipped provider has them. */
export interface InspectedProvider {
  /** Whether `save` is a compare-and-set, which deleting only what was read needs. */
  readonly capabilities?: ProviderCapabilities | undefined;
  list(filter: SnapshotFilter, signal: AbortSignal | undefined, options: ListOptions): Promise<WorkflowExecutionSnapshot[]>;
  tryLoad(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): Promise<WorkflowExecutionSnapshot | undefined>;
  delete(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): Promise<void>;
  /** Only the inspector's retry of a dead letter writes (`workflowforge ui --allow-actions`). */
  save(snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal): Promise<void>;
}

/** A provider over an open connection, and how to let go of that connection. */
export interface OpenStore {
  readonly provider: InspectedProvider;
  /** `signal` and `cancel` through the library, bounded like the provider's calls. */
  readonly instances: InstanceActions;
  /** Names the store in messages, passwords hidden: `PostgreSQL postgres://app:***@db/app, table "x"`. */
  readonly label: string;
  /** Lets go of the connection at once, without waiting for the server to agree. */
  close(): Promise<void>;
  /** Where the store can hold what is not a record (a directory): the names of such entries, sorted. */
  readonly foreignEntries?: () => Promise<string[]>;
}

/** An opened store before its calls are bounded, with what to check when one of them is late. */
export interface OpenedStore extends Omit<OpenStore, "instances"> {
  /** The provider itself, for the library's signalInstance and cancelInstance. */
  readonly persistence: WorkflowPersistenceProvider;
  /** What to look at when a request does not finish in time: `check that ...`. */
  readonly whenLate: string;
  /** True for a failure that means the store waited out the timeout itself (SQLite's busy timeout). */
  readonly isLate?: (error: unknown) => boolean;
}

/**
 * Opens the store, checks that it is there (the directory or file exists, the server answers, the
 * table exists) and returns its provider, every call of which fails with a `TIMEOUT` CliError
 * after `timeout`, as does connecting. Nothing is created: an inspector pointed at the wrong place
 * must say so rather than create an empty store there. `serving` for a store that outlives one
 * command (`workflowforge ui`): a connection it loses is made again (Redis; the Postgres pool does so
 * anyway), where one command fails fast instead.
 */
export async function openStore(spec: StoreSpec, timeout: Duration, serving = false): Promise<OpenStore> {
  const opened = await openUnbounded(spec, timeout, serving);
  const late = (call: string): string => `${opened.label}: ${call} did not finish within ${timeout.text}; ${opened.whenLate}, or raise --timeout`;
  const provider = boundedProvider(opened.provider, timeout, late, opened.isLate);
  const instances = boundedActions(instanceActions(opened.persistence, opened.label), timeout, late, opened.isLate);
  // Bounded too: a close that waits on a server that stopped answering would keep the process alive.
  const close = (): Promise<void> => within(timeout, () => `${opened.label}: close timed out`, () => opened.close());
  const { foreignEntries, label } = opened;
  if (foreignEntries === undefined) return { provider, instances, label, close };
  return { provider, instances, label, close, foreignEntries: () => within(timeout, () => late("reading the directory"), foreignEntries) };
}

// `serving`: the store outlives one command (`workflowforge ui`), so a connection it loses comes back.
function openUnbounded(spec: StoreSpec, timeout: Duration, serving: boolean): Promise<OpenedStore> {
  switch (spec.kind) {
    case "dir":
      return openDirectory(spec.path, timeout);
    case "sqlite":
      return openSqlite(spec, timeout);
    case "postgres":
      return openPostgres(spec, timeout);
    case "redis":
      return openRedis(spec, timeout, serving);
    case "provider":
      return openProviderModule(spec.module, timeout);
  }
}

// SQLITE_BUSY once the busy timeout ran out, SQLITE_LOCKED for a lock of this connection's own.
function isBusy(error: unknown): boolean {
  for (let at = error; typeof at === "object" && at !== null; at = (at as { cause?: unknown }).cause) {
    const code = (at as { code?: unknown }).code;
    if (typeof code === "string" && /^SQLITE_(BUSY|LOCKED)/.test(code)) return true;
  }
  return false;
}

const sqliteWhenLate = "check for another process holding a write lock on the database (a long transaction)";

async function openSqlite({ file, options }: Extract<StoreSpec, { kind: "sqlite" }>, timeout: Duration): Promise<OpenedStore> {
  const fileLabel = `SQLite file ${resolve(file)}`;
  await requireExisting(file, "file", fileLabel);
  const { default: Database } = await importDriver("better-sqlite3", "--sqlite");
  let database: InstanceType<typeof Database>;
  try {
    // better-sqlite3 is synchronous: its busy timeout is the only bound on a wait for a lock.
    database = new Database(file, { fileMustExist: true, timeout: timeout.ms });
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
      if (isBusy(error)) throw new CliError("TIMEOUT", `cannot read ${fileLabel}: it stayed locked for ${timeout.text}; ${sqliteWhenLate}, or raise --timeout`, { cause: error });
      throw new CliError("STORE", `cannot read ${fileLabel}: ${describeCause(error)}`, { cause: error });
    }
    if (!present) throw new CliError("STORE", `${fileLabel} has no table "${provider.tableName}" (pass --table-name if the provider uses another)`);
    return { provider, persistence: provider, label, close: () => Promise.resolve(void database.close()), whenLate: sqliteWhenLate, isLate: isBusy };
  } catch (error) {
    database.close();
    throw error;
  }
}

async function openPostgres({ url, options }: Extract<StoreSpec, { kind: "postgres" }>, timeout: Duration): Promise<OpenedStore> {
  const { default: pg } = await importDriver("pg", "--postgres");
  const serverLabel = `PostgreSQL ${redact(url)}`;
  // The pool parses the URL only when it connects, and then reports a malformed one as a failure
  // to reach the server; a client that is never connected parses it here.
  parseValue("--postgres", url, () => new pg.Client({ connectionString: url }));
  // pg's own timeouts as well as the CLI's: a query it gives up on releases its connection, so
  // that pool.end() does not wait for an answer that never comes.
  const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: timeout.ms, query_timeout: timeout.ms });
  // An idle connection the server drops must not crash the process with an unhandled 'error'.
  pool.on("error", () => undefined);
  try {
    const provider = construct("--table-name or --schema", () => new PostgresPersistenceProvider({ client: pool, ...options }));
    const table = provider.schema === undefined ? `"${provider.tableName}"` : `"${provider.schema}"."${provider.tableName}"`;
    const label = `${serverLabel}, table ${table}`;
    const query = () => pool.query<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [table]);
    const { rows } = await within(timeout, () => noAnswer(serverLabel, "PostgreSQL", timeout), query).catch((error: unknown) => {
      if (error instanceof CliError) throw error;
      throw new CliError("STORE", `cannot reach ${serverLabel}: ${describeCause(error)}`, { cause: error });
    });
    if (rows[0]?.present !== true) throw new CliError("STORE", `${serverLabel} has no table ${table} (pass --table-name or --schema if the provider uses another)`);
    const whenLate = "check that the server is up and answering, and that no transaction holds a lock on the table";
    return { provider, persistence: provider, label, close: () => pool.end(), whenLate };
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
}
