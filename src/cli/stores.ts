import type { ClientConfig, PoolConfig } from "pg";
import { linkedSignal } from "../abort.js";
import type { ListOptions } from "../persistence/list-options.js";
import type { SnapshotFilter } from "../persistence/provider.js";
import { PostgresPersistenceProvider } from "../persistence/providers/postgres.js";
import { layoutQuery } from "../persistence/providers/postgres-sql.js";
import type { WorkflowExecutionSnapshot } from "../persistence/snapshot.js";
import type { StoreSpec } from "./args.js";
import type { ProviderCapabilities, WorkflowPersistenceProvider } from "../persistence/provider.js";
import { boundedActions, boundedProvider, within, type Budget, type Bounds } from "./deadline.js";
import { openDirectory } from "./dir-store.js";
import { importDriver, type DriverModule } from "./drivers.js";
import type { Duration } from "./duration.js";
import { CliError, describeCause } from "./errors.js";
import { instanceActions, type InstanceActions } from "./instance-actions.js";
import { openProviderModule } from "./provider-store.js";
import { openRedis } from "./redis-store.js";
import { openSqlite } from "./sqlite-store.js";
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
  /** Lets go of the connection at once, without waiting for the server to agree. A second call gets the first one's promise. */
  close(): Promise<void>;
  /** Where the store can hold what is not a record (a directory): the names of such entries, sorted. */
  readonly foreignEntries?: () => Promise<string[]>;
  /**
   * The store with one deadline, --timeout from now, that every call made through it shares: an
   * inspector request's. The store's own calls each have all of --timeout. When `stop` aborts (the
   * inspector stopping), so do the signals of its provider's calls in flight: the reads a page
   * makes. Actions are not given one (a delete must give back what it claimed).
   */
  readonly forRequest?: (stop?: AbortSignal) => OpenStore;
}

/** An opened store before its calls are bounded, with what to check when one of them is late. */
export interface OpenedStore extends Omit<OpenStore, "instances"> {
  /** The provider itself, for the library's signalInstance and cancelInstance. */
  readonly persistence: WorkflowPersistenceProvider;
  /** What to look at when a request does not finish in time: `check that ...`. */
  readonly whenLate: string;
  /** True for a failure that passes if the call is tried again shortly (SQLite's lock): retried until the deadline. */
  readonly isBusy?: (error: unknown) => boolean;
  /** Called when a call ran out of time (a `serving` Redis store checks that its connection still answers). */
  readonly onLate?: () => void;
}

/**
 * Opens the store, checks that it is there (the directory or file exists, the server answers, the
 * table exists) and returns its provider, every call of which fails with a `TIMEOUT` CliError
 * after `timeout`, as does connecting. Nothing is created: an inspector pointed at the wrong place
 * must say so rather than create an empty store there. `serving` for a store that outlives one
 * command (`workflowforge ui`): a connection it loses is made again (Redis; the Postgres pool does so
 * anyway), where one command fails fast instead.
 */
export async function openStore(spec: StoreSpec, timeout: Duration, serving = false, access: StoreAccessMode = "write"): Promise<OpenStore> {
  return boundedStore(await openUnbounded(spec, timeout, serving, access), timeout);
}

/** What a command does to the store: `read` only (a SQLite file is then opened read-only), or `write` too. */
export type StoreAccessMode = "read" | "write";

/** `opened` with its calls bounded by `timeout` each, and {@link OpenStore.forRequest} by `timeout` together. */
function boundedStore(opened: OpenedStore, timeout: Duration): OpenStore {
  const advice = `${opened.whenLate}, or raise --timeout`;
  // A delete the store received may still be applied after the command gave up on it.
  const unknown = (call: string): string => (call === "delete" ? "; whether it was done is unknown: the store may still apply it (see `show`)" : "");
  const late = (call: string): string => `${opened.label}: ${call} did not finish within ${timeout.text}${unknown(call)}; ${advice}`;
  const actions = instanceActions(opened.persistence, opened.label);
  const calls = (budget: Budget, lateCall = late, stop?: AbortSignal): Pick<OpenStore, "provider" | "instances"> => {
    const bounds: Bounds = { budget, late: lateCall, busy: opened.isBusy, onLate: opened.onLate };
    const provider = stop === undefined ? opened.provider : stoppingProvider(opened.provider, stop);
    return { provider: boundedProvider(provider, bounds), instances: boundedActions(actions, bounds) };
  };
  // Bounded too: a close that waits on a server that stopped answering would keep the process alive.
  // Once: the inspector closes the store when it stops, and the CLI again after every command.
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= within(timeout, () => `${opened.label}: close timed out`, () => opened.close()));
  const { foreignEntries, label } = opened;
  const entries = foreignEntries === undefined ? {} : { foreignEntries: () => within(timeout, () => late("reading the directory"), foreignEntries) };
  const store: OpenStore = { ...calls(() => timeout.ms), label, close, ...entries };
  const lateRequest = (call: string): string => `${opened.label}: the request did not finish within ${timeout.text} (its ${call} was still waiting); ${advice}`;
  const forRequest = (stop?: AbortSignal): OpenStore => {
    const deadline = Date.now() + timeout.ms;
    return { ...store, ...calls(() => deadline - Date.now(), lateRequest, stop) };
  };
  return { ...store, forRequest };
}

// `call` with a signal that aborts with its own or with `stop`, linked only while it runs: `stop`
// lives as long as the inspector, and must not keep a listener for every call it ever saw.
async function linked<T>(signal: AbortSignal | undefined, stop: AbortSignal, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const link = linkedSignal(signal === undefined ? [stop] : [signal, stop]);
  try {
    return await call(link.signal);
  } finally {
    link.dispose();
  }
}

function stoppingProvider(provider: InspectedProvider, stop: AbortSignal): InspectedProvider {
  return {
    capabilities: provider.capabilities,
    list: (filter, signal, options) => linked(signal, stop, (either) => provider.list(filter, either, options)),
    tryLoad: (instance, key, signal) => linked(signal, stop, (either) => provider.tryLoad(instance, key, either)),
    delete: (instance, key, signal) => linked(signal, stop, (either) => provider.delete(instance, key, either)),
    save: (snapshot, signal) => linked(signal, stop, (either) => provider.save(snapshot, either)),
  };
}

// `serving`: the store outlives one command (`workflowforge ui`), so a connection it loses comes back.
function openUnbounded(spec: StoreSpec, timeout: Duration, serving: boolean, access: StoreAccessMode): Promise<OpenedStore> {
  switch (spec.kind) {
    case "dir":
      return openDirectory(spec.path, timeout);
    case "sqlite":
      return openSqlite(spec, timeout, access === "read");
    case "postgres":
      return openPostgres(spec, timeout);
    case "redis":
      return openRedis(spec, timeout, serving);
    case "provider":
      return openProviderModule(spec.module, timeout);
  }
}

async function openPostgres({ url, options }: Extract<StoreSpec, { kind: "postgres" }>, timeout: Duration): Promise<OpenedStore> {
  const { default: pg } = await importDriver("pg", "--postgres");
  const serverLabel = `PostgreSQL ${redact(url)}`;
  // The pool parses the URL only when it connects, and then reports a malformed one as a failure
  // to reach the server; a client that is never connected parses it here.
  parseValue("--postgres", url, () => new pg.Client({ connectionString: url }));
  // pg's own timeouts as well as the CLI's: a query it gives up on releases its connection.
  const { pool, close } = cuttablePool(pg, { connectionString: url, max: 2, connectionTimeoutMillis: timeout.ms, query_timeout: timeout.ms });
  try {
    const provider = construct("--table-name or --schema", () => new PostgresPersistenceProvider({ client: pool, ...options }));
    const table = provider.schema === undefined ? `"${provider.tableName}"` : `"${provider.schema}"."${provider.tableName}"`;
    const label = `${serverLabel}, table ${table}`;
    const layout = layoutQuery(provider.tableName, provider.schema);
    const query = () => pool.query<{ present: boolean; current: boolean }>(layout.text, layout.values);
    const { rows } = await within(timeout, () => noAnswer(serverLabel, "PostgreSQL", timeout), query).catch((error: unknown) => {
      if (error instanceof CliError) throw error;
      throw new CliError("STORE", `cannot reach ${serverLabel}: ${describeCause(error)}`, { cause: error });
    });
    if (rows[0]?.present !== true) throw new CliError("STORE", `${serverLabel} has no table ${table} (pass --table-name or --schema if the provider uses another)`);
    // The provider would bring it up to date on first use: ALTER TABLE and index builds, from a command that reads.
    if (rows[0].current !== true) throw new CliError("STORE", `${label} was made by an older version of workflowforge: upgrade it first with the provider's migrate(), as the table's owner (a deploy step)`);
    const whenLate = "check that the server is up and answering, and that no transaction holds a lock on the table";
    return { provider, persistence: provider, label, close, whenLate };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}

type Pg = DriverModule<"pg">["default"];

/**
 * A pg pool whose close does not wait for the server. pool.end() says goodbye to idle connections
 * but waits for the others: one with a query in flight until its answer, one logging in until it
 * is let in, which on a server that stopped answering is query_timeout or connectionTimeoutMillis
 * later, all of --timeout (the inspector's Ctrl+C hung that long). Those are cut instead.
 */
function cuttablePool(pg: Pg, config: PoolConfig): { pool: InstanceType<Pg["Pool"]>; close: () => Promise<void> } {
  // Every client from its creation (the pool's events start at its login), and whether it is idle.
  const clients = new Set<InstanceType<Pg["Client"]>>();
  const idle = new WeakSet<object>();
  class TrackedClient extends pg.Client {
    constructor(options?: ClientConfig) {
      super(options);
      clients.add(this);
      // Ended however it ended: closed by the pool, lost, or never let in.
      this.once("end", () => clients.delete(this));
    }
  }
  const pool = new pg.Pool({ ...config, Client: TrackedClient });
  pool.on("acquire", (client) => idle.delete(client));
  pool.on("release", (_error, client) => idle.add(client));
  // An idle connection the server drops must not crash the process with an unhandled 'error'.
  pool.on("error", () => undefined);
  const close = (): Promise<void> => {
    const ended = pool.end();
    for (const client of clients) if (!idle.has(client)) client.connection.stream.destroy();
    return ended;
  };
  return { pool, close };
}
