import { describe as describeValue } from "../../internal/validate.js";
import type { SnapshotCodec } from "../codec/codec.js";
import { listedReader, type ListOptions } from "../list-options.js";
import { PersistenceError, SnapshotConflictError, SnapshotCorruptedError, type ProviderCall, type SnapshotKeys } from "../errors.js";
import type { ClaimRequest, ProviderCapabilities, SnapshotFilter, WorkflowPersistenceProvider } from "../provider.js";
import { withClaimColumns } from "../claim-columns.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { sqliteFileDetail } from "./connection-errors.js";
import { SetupOnce, asError, codecOption, providerOptions, requireIdentifier, throwIfAborted } from "./shared.js";
import { decodeFromStorage, encodeForStorage } from "./stored.js";
import { canonicalTime, sqliteStatements, type SqliteRow, type SqliteStatementTexts } from "./sqlite-sql.js";
import { keyOfStored, keysOfColumns, storedKey } from "./stored-keys.js";
import { anyInstance, listKeys } from "../keys.js";

/** The members of a better-sqlite3 `Statement` this provider calls. */
export interface SqliteStatement {
  run(...params: unknown[]): { readonly changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

/** The members of a better-sqlite3 (>= 11) `Database` this provider calls; pass the `Database` itself. */
export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): unknown;
  pragma(source: string): unknown;
}

export interface SqlitePersistenceProviderOptions {
  /** An open better-sqlite3 `Database` (a file or `:memory:`). The provider never closes it. */
  readonly database: SqliteDatabase;
  /**
   * Table holding one row per instance; must match `/^[A-Za-z_][A-Za-z0-9_]{0,62}$/` and not start
   * with `sqlite_` (in any case), which SQLite reserves. @default "workflowforge_snapshots"
   */
  readonly tableName?: string;
  /** Turns a snapshot into the text stored in the `data` column and back. @default defaultSnapshotCodec */
  readonly codec?: SnapshotCodec;
}

// SQLite refuses to create such a table, so the mistake would otherwise surface at first use.
const reserved = { pattern: /^sqlite_/i, prefix: "sqlite_", owner: "SQLite reserves for its own tables" };
const where = "SqlitePersistenceProvider(options)";
const source = "sqlite";

type Statements = Readonly<Record<"insert" | "update" | "select" | "remove", SqliteStatement>>;

function validateOptions(input: unknown): Required<SqlitePersistenceProviderOptions> {
  const options = providerOptions<SqlitePersistenceProviderOptions>(input, where, ["database", "tableName", "codec"]);
  const { database, tableName = "workflowforge_snapshots" } = options;
  if (typeof database !== "object" || database === null || typeof database.prepare !== "function") {
    throw new TypeError(`${where}: options.database must be a better-sqlite3 Database, got ${describeValue(database)}`);
  }
  return { database, tableName: requireIdentifier(tableName, "tableName", where, reserved), codec: codecOption(options.codec, where) };
}

// better-sqlite3 is synchronous; the provider's methods still return promises so that every
// failure, an aborted signal included, arrives as a rejection. Not `async`: nothing is awaited.
function settle<T>(signal: AbortSignal | undefined, body: () => T): Promise<T> {
  try {
    throwIfAborted(signal);
    return Promise.resolve(body());
  } catch (error) {
    return Promise.reject(asError(error));
  }
}

// What a non-text data column holds, for the error.
function columnValue(data: unknown): string {
  if (data === null) return "NULL";
  return data instanceof Uint8Array ? "a BLOB" : typeof data;
}

/**
 * Stores snapshots in a SQLite table through a better-sqlite3 `Database` you open (peer
 * `better-sqlite3` >= 11), one row per instance holding the codec's text.
 *
 * - **Setup:** on first use it switches a file database to WAL (`journal_mode` is kept by the file;
 *   `:memory:` stays as it is) and creates the table and an index on `(status, updated_at)` if
 *   missing. `synchronous` and the busy timeout are left as you set them. Unset, better-sqlite3
 *   runs a WAL database with `synchronous = NORMAL` (it builds SQLite with
 *   `SQLITE_DEFAULT_WAL_SYNCHRONOUS=1`): a checkpoint survives a crash of the process, and a power
 *   loss can lose the last checkpoints but never corrupts. Set `database.pragma("synchronous = FULL")`
 *   for checkpoints that survive power loss. The busy timeout defaults to 5 s (`new Database(file, { timeout })`).
 * - **Atomicity:** every save is one statement, so a reader sees the old or the new row. Compare-and-set
 *   is in that statement (`INSERT ... ON CONFLICT DO NOTHING` for revision 1, `UPDATE ... WHERE
 *   revision = n - 1` after), so it holds between connections and processes sharing the file.
 * - **Errors:** driver failures (closed database, `SQLITE_BUSY` after the timeout, I/O errors) reject
 *   with `PersistenceError` (`[workflowforge:sqlite]`, the call, the keys, the driver's error as
 *   `cause`; a read-only or locked file is named, with what to check); a refused save with
 *   `SnapshotConflictError`; unreadable `data` with `SnapshotCorruptedError`.
 * - **Cost:** one prepared statement per call (a refused save included), run synchronously on the
 *   calling thread (better-sqlite3 has no asynchronous API), plus encoding or decoding the snapshot.
 * - **Claim:** `claim()` is one statement; the claim's columns (`owner`, `lease_expires_at`,
 *   `attempts`) are added to a table made by an older version on first use.
 * - **Keys** are stored as themselves, so they can be queried in SQL, except a key holding a lone
 *   surrogate (which UTF-8 cannot spell) or starting with U+FFFF: that one is stored as U+FFFF
 *   followed by its JSON, so that every key reads back as itself and no two share a row.
 */
export class SqlitePersistenceProvider implements WorkflowPersistenceProvider {
  readonly capabilities: ProviderCapabilities = Object.freeze({ compareAndSet: true, list: true, claim: true });
  /** The validated table name. */
  readonly tableName: string;
  readonly #database: SqliteDatabase;
  readonly #codec: SnapshotCodec;
  readonly #sql: SqliteStatementTexts;
  // Kept once made: a failed setup (busy, closed) is retried by the next call.
  readonly #statements = new SetupOnce(() => this.#prepare());

  constructor(options: SqlitePersistenceProviderOptions) {
    const { database, tableName, codec } = validateOptions(options);
    this.#database = database;
    this.#codec = codec;
    this.tableName = tableName;
    this.#sql = sqliteStatements(tableName);
  }

  /**
   * Creates the table and its index if missing (idempotent) and switches a file database to WAL.
   * Runs by itself on first use; call it from a deploy step to create the schema ahead of time.
   * Rejects with the driver's error.
   */
  migrate(): Promise<void> {
    return settle(undefined, () => this.#migrate());
  }

  /** Rejects with `SnapshotConflictError` unless the stored revision is `snapshot.revision - 1`. */
  save(snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal): Promise<void> {
    return settle(signal, () => this.#save(snapshot));
  }

  tryLoad(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): Promise<WorkflowExecutionSnapshot | undefined> {
    return settle(signal, () => {
      const keys = { foundryExecutionId, workflowId };
      const row = this.#guard("tryLoad", keys, (statements) => statements.select.get(storedKey(foundryExecutionId), storedKey(workflowId))) as SqliteRow | undefined;
      return row === undefined ? undefined : this.#read(row, keys);
    });
  }

  delete(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): Promise<void> {
    return settle(signal, () => {
      this.#guard("delete", { foundryExecutionId, workflowId }, (statements) => statements.remove.run(storedKey(foundryExecutionId), storedKey(workflowId)));
    });
  }

  /**
   * Snapshots matching `filter`, in no particular order. Status, workflow id, workflow name and
   * `updatedBefore` are filtered in SQL (the `(status, updated_at)` index serves recovery scans);
   * only matching rows are decoded. Reads everything it returns into memory at once. A row that
   * cannot be decoded (its data, or key columns no save writes) rejects the call with
   * `SnapshotCorruptedError`, or with `options.onUnreadable` is handed to it and left out.
   */
  list(filter: SnapshotFilter = {}, signal?: AbortSignal, options?: ListOptions): Promise<WorkflowExecutionSnapshot[]> {
    return settle(signal, () => {
      const read = listedReader(filter, options, "SqlitePersistenceProvider");
      const query = this.#sql.list(filter);
      if (query === undefined) return [];
      const keys = listKeys(filter);
      const rows = this.#guard("list", keys, () => this.#database.prepare(query.text).all(...query.values)) as SqliteRow[];
      return rows.flatMap((row) => read(() => this.#read(row, keysOfColumns(row.instance_id, row.workflow_id, keyOfStored))) ?? []);
    });
  }

  /**
   * Claims up to `request.limit` claimable rows in one statement (`UPDATE ... RETURNING`, under the
   * database's write lock). The claim writes the row's revision, owner, lease, attempts and
   * updated_at columns and leaves its data as it was; reads put those over the data until the next save.
   */
  claim(request: ClaimRequest, signal?: AbortSignal, options?: ListOptions): Promise<WorkflowExecutionSnapshot[]> {
    return settle(signal, () => {
      const read = listedReader(undefined, options, "SqlitePersistenceProvider");
      const query = this.#sql.claim(request);
      if (query === undefined) return [];
      const rows = this.#guard("claim", anyInstance, () => this.#database.prepare(query.text).all(...query.values)) as SqliteRow[];
      const claim = { owner: request.owner, lease_expires_at: request.leaseExpiresAt, updated_at: request.now };
      return rows.flatMap((row) => read(() => this.#read({ ...row, ...claim }, keysOfColumns(row.instance_id, row.workflow_id, keyOfStored))) ?? []);
    });
  }

  #save(snapshot: WorkflowExecutionSnapshot): void {
    const instance = storedKey(snapshot.foundryExecutionId);
    const workflow = storedKey(snapshot.workflowId);
    // Encoding first: a snapshot the codec refuses writes nothing.
    const data = encodeForStorage(this.#codec, snapshot);
    const { revision, status, workflowName } = snapshot;
    const updatedAt = canonicalTime(snapshot.updatedAt);
    const [owner, lease, attempts] = [snapshot.owner ?? null, snapshot.leaseExpiresAt === undefined ? null : canonicalTime(snapshot.leaseExpiresAt), snapshot.attempts ?? null];
    const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
    const changes = this.#guard("save", keys, ({ insert, update }) =>
      revision === 1
        ? insert.run(instance, workflow, revision, status, workflowName, updatedAt, data, owner, lease, attempts).changes
        : update.run(revision, status, workflowName, updatedAt, data, owner, lease, attempts, instance, workflow, revision - 1).changes,
    );
    // No read of what is stored to explain it: a refused claim costs this one statement.
    if (changes !== 1) throw new SnapshotConflictError({ source, call: "save", keys, detail: `revision ${revision} was refused: the stored revision is not ${revision - 1}` });
  }

  #migrate(): void {
    // A no-op answer ("memory") for :memory: databases, which cannot use WAL.
    this.#database.pragma("journal_mode = WAL");
    this.#database.exec(this.#sql.migrate);
    const columns = this.#database.prepare(`SELECT name FROM pragma_table_info('${this.tableName}')`).all() as { name: string }[];
    if (!columns.some((column) => column.name === "lease_expires_at")) this.#database.exec(this.#sql.addClaimColumns);
  }

  #prepare(): Statements {
    this.#migrate();
    const { insert, update, select, remove } = this.#sql;
    const prepare = (sql: string): SqliteStatement => this.#database.prepare(sql);
    return { insert: prepare(insert), update: prepare(update), select: prepare(select), remove: prepare(remove) };
  }

  // Runs driver calls only (no codec work), so whatever it throws becomes a PersistenceError naming call and keys.
  #guard<T>(call: ProviderCall, keys: SnapshotKeys, body: (statements: Statements) => T): T {
    try {
      return body(this.#statements.get());
    } catch (error) {
      throw new PersistenceError({ source, call, keys, cause: error, detail: sqliteFileDetail(this.#database, error) });
    }
  }

  // The row's record: its data, with a claim made since the data was written read over it.
  #read(row: SqliteRow, keys: SnapshotKeys): WorkflowExecutionSnapshot {
    const ms = (text: unknown): number | undefined => (typeof text === "string" ? Date.parse(text) : undefined);
    return withClaimColumns(this.#decode(row.data, keys), { revision: row.revision, owner: row.owner, lease_ms: ms(row.lease_expires_at), updated_ms: ms(row.updated_at) });
  }

  #decode(data: unknown, keys: SnapshotKeys): WorkflowExecutionSnapshot {
    if (typeof data !== "string") throw new SnapshotCorruptedError(keys, `the data column holds ${columnValue(data)}, not text`);
    return decodeFromStorage(this.#codec, data, keys);
  }
}
