import type { SnapshotCodec } from "../codec/codec.js";
import { listedReader, type ListOptions } from "../list-options.js";
import { PersistenceError, SnapshotConflictError, SnapshotCorruptedError, type ProviderCall, type SnapshotKeys } from "../errors.js";
import type { ClaimRequest, ProviderCapabilities, SnapshotFilter, WorkflowPersistenceProvider } from "../provider.js";
import { withClaimColumns } from "../claim-columns.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { sqliteFileDetail } from "./connection-errors.js";
import { asError, throwIfAborted } from "./shared.js";
import { validateOptions, type SqliteDatabase, type SqlitePersistenceProviderOptions, type SqliteStatement } from "./sqlite-options.js";
import { SqliteSetup } from "./sqlite-setup.js";

export type { SqliteDatabase, SqlitePersistenceProviderOptions, SqliteStatement } from "./sqlite-options.js";
import { decodeFromStorage, encodeForStorage } from "./stored.js";
import { canonicalTime, columnValue, sqliteStatements, type SqliteRow, type SqliteStatementTexts } from "./sqlite-sql.js";
import { keyOfStored, keysOfColumns, storedKey } from "./stored-keys.js";
import { listKeys } from "../keys.js";
import type { DeliveredEvent } from "../mailbox.js";
import { claimRows } from "./sqlite-claim.js";
import { deliverEvent, prepareMailbox, receiveEvents, type MailboxStatements } from "./sqlite-mailbox.js";
import { wakeMsOf } from "./sql-query.js";
import { storedAlready } from "../provider-call.js";

const source = "sqlite";

type Statements = Readonly<Record<"insert" | "update" | "insertWaiting" | "updateWaiting" | "select" | "remove", SqliteStatement>> & MailboxStatements;

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

/**
 * Stores snapshots in a SQLite table through a better-sqlite3 `Database` you open (peer
 * `better-sqlite3` >= 11), one row per instance holding the codec's text.
 *
 * - **Setup:** on first use it switches a file database to WAL (`journal_mode` is kept by the file;
 *   `:memory:` stays as it is) and creates the table and an index on `(status, updated_at)` if
 *   missing. Inside a transaction your application holds on the connection, SQLite cannot switch:
 *   the tables are made in that transaction and the first call outside one switches.
 *   `synchronous` and the busy timeout are left as you set them. Unset, better-sqlite3 runs a WAL
 *   database with `synchronous = NORMAL` (it builds SQLite with
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
 * - **Claim:** `claim()` is one statement, in a savepoint with the decoding of what it returns: a
 *   claim that rejects (a row it cannot read) takes nothing. The claim's columns (`owner`,
 *   `lease_expires_at`, `attempts`) are added to a table made by an older version on first use.
 * - **Waits:** `<table>_mailbox` holds delivered events (first write wins per instance and
 *   `eventId`); a waiting row's `waiting_for` and `wake_ms` columns, with a partial index on
 *   `wake_ms` of waiting rows, let `claim()` find what is due without reading what is not.
 *   `deliver` is one transaction; a trigger removes an instance's events with its row. Older
 *   tables gain the columns, the index, the mailbox and the trigger on first use.
 * - **Keys** are stored as themselves, so they can be queried in SQL, except a key holding a lone
 *   surrogate (which UTF-8 cannot spell) or starting with U+FFFF: that one is stored as U+FFFF
 *   followed by its JSON, so that every key reads back as itself and no two share a row.
 */
export class SqlitePersistenceProvider implements WorkflowPersistenceProvider {
  readonly capabilities: ProviderCapabilities = Object.freeze({ compareAndSet: true, list: true, claim: true, mailbox: true });
  /** The validated table name. */
  readonly tableName: string;
  readonly #database: SqliteDatabase;
  readonly #codec: SnapshotCodec;
  readonly #sql: SqliteStatementTexts;
  // Kept once done: a failed setup (busy, closed) is retried by the next call, the switch to WAL by
  // the first outside a transaction, and a table found gone by the statement that found it.
  readonly #statements: SqliteSetup<Statements>;

  constructor(options: SqlitePersistenceProviderOptions) {
    const { database, tableName, codec } = validateOptions(options);
    this.#database = database;
    this.#codec = codec;
    this.tableName = tableName;
    this.#sql = sqliteStatements(tableName);
    this.#statements = new SqliteSetup(database, tableName, this.#sql, () => this.#prepare());
  }

  /**
   * Creates the table and its index if missing (idempotent) and switches a file database to WAL.
   * Runs by itself on first use; call it from a deploy step to create the schema ahead of time.
   * Inside a transaction held on the connection, the tables are made in it and the switch to WAL is
   * left to the provider's first call outside one. Rejects with the driver's error.
   */
  migrate(): Promise<void> {
    return settle(undefined, () => this.#statements.migrate());
  }

  /** Rejects with `SnapshotConflictError` unless the stored revision is `snapshot.revision - 1`. */
  save(snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal): Promise<void> {
    // settle() without its closure, resolving with the one promise the engine knows stored already:
    // a checkpoint then waits no turn of the microtask queue.
    try {
      throwIfAborted(signal);
      this.#save(snapshot);
      return storedAlready;
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  tryLoad(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): Promise<WorkflowExecutionSnapshot | undefined> {
    return this.#settle(signal, () => {
      const keys = { foundryExecutionId, workflowId };
      const row = this.#guard("tryLoad", keys, (statements) => statements.select.get(storedKey(foundryExecutionId), storedKey(workflowId))) as SqliteRow | undefined;
      return row === undefined ? undefined : this.#read(row, keys);
    });
  }

  delete(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): Promise<void> {
    return this.#settle(signal, () => {
      const [instance, workflow] = [storedKey(foundryExecutionId), storedKey(workflowId)];
      // The row's trigger removes its events in the same statement; only events with no row need a second.
      this.#guard("delete", { foundryExecutionId, workflowId }, ({ remove, removeEvents }) => remove.run(instance, workflow).changes === 1 || removeEvents.run(instance, workflow));
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
    return this.#settle(signal, () => {
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
   * A row that cannot be read undoes the whole claim: without `onUnreadable` the claim rejects,
   * with it the claim is made again without that row, which stays as it was.
   */
  claim(request: ClaimRequest, signal?: AbortSignal, options?: ListOptions): Promise<WorkflowExecutionSnapshot[]> {
    return this.#settle(signal, () => {
      const reader = listedReader(undefined, options, "SqlitePersistenceProvider");
      const claim = { owner: request.owner, lease_expires_at: request.leaseExpiresAt, updated_at: request.now };
      return claimRows(
        {
          guard: (call, keys, body) => this.#guard(call, keys, body),
          statement: (excluded) => this.#sql.claim(request, excluded),
          run: (query) => this.#database.prepare(query.text).all(...query.values) as SqliteRow[],
          read: (row) => this.#read({ ...row, ...claim }, keysOfColumns(row.instance_id, row.workflow_id, keyOfStored)),
        },
        reader,
      );
    });
  }

  /**
   * Stores `event` unless its instance has its `eventId` already and, when the instance's row is
   * `waiting` for `event.name`, marks it due for `claim()`: two statements in one transaction.
   * Resolves whether it stored the event.
   */
  deliver(event: DeliveredEvent, signal?: AbortSignal): Promise<boolean> {
    return this.#settle(signal, () => deliverEvent((call, keys, body) => this.#guard(call, keys, body), this.#codec, event));
  }

  /** The instance's events named `name`, oldest delivery first. */
  receive(keys: SnapshotKeys, name: string, signal?: AbortSignal): Promise<DeliveredEvent[]> {
    return this.#settle(signal, () => receiveEvents((call, at, body) => this.#guard(call, at, body), this.#codec, keys, name));
  }

  #save(snapshot: WorkflowExecutionSnapshot, again = true): void {
    const { foundryExecutionId, workflowId, revision, status } = snapshot;
    // As a key is stored: lone surrogates escaped, so that a filter by name matches this one alone.
    const workflowName = storedKey(snapshot.workflowName);
    const [instance, workflow] = [storedKey(foundryExecutionId), storedKey(workflowId)];
    // Encoding first: a snapshot the codec refuses writes nothing.
    const data = encodeForStorage(this.#codec, snapshot);
    const updatedAt = canonicalTime(snapshot.updatedAt);
    const [owner, lease, attempts] = [snapshot.owner ?? null, snapshot.leaseExpiresAt === undefined ? null : canonicalTime(snapshot.leaseExpiresAt), snapshot.attempts ?? null];
    const waitingFor = status === "waiting" && snapshot.waitingFor !== undefined ? storedKey(snapshot.waitingFor) : null;
    const wakeMs = wakeMsOf(snapshot);
    // The statement is run here rather than through #guard: a closure over thirteen values per save is not free.
    let changes: number;
    try {
      const { insert, update, insertWaiting, updateWaiting } = this.#statements.get();
      // A waiting save is marked due in its own statement when an event it waits for is there already.
      const held = waitingFor === null ? undefined : ([waitingFor, JSON.stringify((snapshot.consumedEvents ?? []).map(storedKey))] as const);
      if (held !== undefined) {
        const values = [status, workflowName, updatedAt, data, owner, lease, attempts, waitingFor] as const;
        changes = revision === 1 ? insertWaiting.run(instance, workflow, revision, ...values, instance, workflow, ...held, wakeMs).changes : updateWaiting.run(revision, ...values, ...held, wakeMs, instance, workflow, revision - 1).changes;
      } else if (revision === 1) changes = insert.run(instance, workflow, revision, status, workflowName, updatedAt, data, owner, lease, attempts, waitingFor, wakeMs).changes;
      else changes = update.run(revision, status, workflowName, updatedAt, data, owner, lease, attempts, waitingFor, wakeMs, instance, workflow, revision - 1).changes;
    } catch (error) {
      // Its table taken back by a rollback of the transaction it was made in: set up again, once.
      if (again && this.#statements.forgetIfGone(error)) return this.#save(snapshot, false);
      throw this.#failure("save", { foundryExecutionId, workflowId }, error);
    }
    // No read of what is stored to explain it: a refused claim costs this one statement.
    if (changes !== 1) throw new SnapshotConflictError({ source, call: "save", keys: { foundryExecutionId, workflowId }, detail: `revision ${revision} was refused: the stored revision is not ${revision - 1}` });
  }

  #prepare(): Statements {
    const prepare = (sql: string): SqliteStatement => this.#database.prepare(sql);
    const texts = ["insert", "update", "insertWaiting", "updateWaiting", "select", "remove"] as const;
    return { ...(Object.fromEntries(texts.map((name) => [name, prepare(this.#sql[name])])) as Record<(typeof texts)[number], SqliteStatement>), ...prepareMailbox(this.#database, this.#sql) };
  }

  // Runs driver calls only (no codec work), so whatever it throws becomes a PersistenceError naming call and keys.
  #guard<T>(call: ProviderCall, keys: SnapshotKeys, body: (statements: Statements) => T): T {
    try {
      return body(this.#statements.get());
    } catch (error) {
      throw this.#failure(call, keys, error);
    }
  }

  // settle(), running `body` once more when a statement found a table of the provider gone (a
  // rollback took back the transaction it was made in), after setting up again. The whole call, not
  // the statement: a savepoint's earlier writes were undone with it, so none is made twice.
  #settle<T>(signal: AbortSignal | undefined, body: () => T): Promise<T> {
    return settle(signal, () => {
      try {
        return body();
      } catch (error) {
        if (!(error instanceof PersistenceError && this.#statements.forgetIfGone(error.cause))) throw error;
        return body();
      }
    });
  }

  #failure(call: ProviderCall, keys: SnapshotKeys, error: unknown): PersistenceError {
    return new PersistenceError({ source, call, keys, cause: error, detail: sqliteFileDetail(this.#database, error) });
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
