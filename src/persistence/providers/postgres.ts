import { isWorkflowForgeError, messageOf } from "../../errors.js";
import type { SnapshotCodec } from "../codec/codec.js";
import { PersistenceError, SnapshotCorruptedError, type ProviderCall, type SnapshotKeys } from "../errors.js";
import { listedReader, type ListOptions } from "../list-options.js";
import type { ClaimRequest, ProviderCapabilities, SnapshotFilter, WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { postgresConnectionDetail } from "./connection-errors.js";
import { isAbortOf, SetupOnce, throwIfAborted, untilAborted } from "./shared.js";
import { decodeFromStorage } from "./stored.js";
import { decodeKey, encodeKey, postgresStatements, type PostgresStatements } from "./postgres-sql.js";
import { keysOfColumns } from "./stored-keys.js";
import { anyInstance, listKeys } from "../keys.js";
import { withClaimColumns } from "../claim-columns.js";
import type { DeliveredEvent } from "../mailbox.js";
import { batchTexts, GroupedWriter } from "./postgres-grouped.js";
import { validateOptions, type PostgresClient, type PostgresPersistenceProviderOptions, type PostgresPreparingClient, type PostgresQueryResult } from "./postgres-options.js";
import { namedQueries, type NamedQuery } from "./postgres-prepared.js";
import { deliverEvent, receiveEvents, type SendQuery } from "./postgres-mailbox.js";
import { listenerOf } from "./postgres-listen.js";
import { claimRows, type ClaimedRow as Row } from "./postgres-claim.js";

export type { PostgresClient, PostgresPersistenceProviderOptions, PostgresPreparingClient, PostgresQueryConfig, PostgresQueryResult } from "./postgres-options.js";

// What Postgres raises when two sessions create the same table at once without a common lock: a
// unique violation on pg_type, or the relation, its primary key or the schema already existing.
const createRaceCodes: ReadonlySet<unknown> = new Set(["23505", "42P07", "42710", "42P06"]);
const source = "postgres";

const keysOf = (row: Row): SnapshotKeys => keysOfColumns(row.instance_id, row.workflow_id, decodeKey);

/**
 * Stores snapshots in a PostgreSQL table through a client you created: a `pg` (>= 8.0.3) Pool, Client or
 * PoolClient, or a PGlite instance. One row per instance holds the codec's text.
 *
 * - **Setup:** on first use it creates the schema (when given) and the table if missing, under a
 *   transaction-scoped advisory lock so that many processes starting at once do not trip over each
 *   other. `migrate()` does the same ahead of time; call it first when the provider's client is a
 *   connection inside your own transaction, or the creation (and its lock) waits for your commit.
 *   Beside the primary key, an index on `status` and, for `claim()`, a partial index of the keys
 *   of running, failed and compensating rows; none on `updated_at` or the lease, which every
 *   checkpoint changes (an index on them would cost each a non-HOT update). A table made by an
 *   older version gains the claim's columns (`owner`, `lease_expires_at`, `attempts`) and the
 *   indexes on first use; its rows' leases are read from the column only once saved again.
 * - **Waits:** beside the table, `<table>_mailbox` holds delivered events (first write wins per
 *   instance and `eventId`); a waiting row's `waiting_for` and `wake_ms` columns, with a partial
 *   index on `wake_ms` of waiting rows, let `claim()` find what is due without reading what is not.
 *   `deliver` is one statement (store, mark due, `pg_notify`); `delete` removes the events in the
 *   same statement. Older tables gain the columns, the index and the mailbox on first use.
 * - **Atomicity:** every save is one statement, and compare-and-set is inside it (`INSERT ... ON
 *   CONFLICT DO NOTHING` for revision 1, `UPDATE ... WHERE revision = n - 1` after), so it holds
 *   between connections and processes. Durability is the server's: a save resolves once committed.
 * - **Group commit:** saves that arrive while one of this provider's is in flight wait for it, then
 *   go together as one statement (up to 16), each with its own compare-and-set; deletes likewise.
 *   A worker running many instances at once sends one statement for the checkpoints they reached
 *   together. A lone save goes at once. A group the server refuses as a whole (a key too long, a
 *   deadlock) is sent again save by save, so only the save at fault fails; writes wait at most
 *   20 ms behind a statement that hangs.
 * - **Cost:** at most one round trip per save, tryLoad, delete, claim, deliver and receive (a refused save included), plus one
 *   statement to create the table on first use, and one to give back the rows of a claim that rejects. `preparedStatements: true` (a `pg` client; off by default) names all
 *   but the claim's, so each connection parses and plans them once: less CPU in the client and the server per call.
 * - **Errors:** driver failures (closed pool, lost connection, SQL errors) reject with
 *   `PersistenceError` (`[workflowforge:postgres]`, the call, the keys, the driver's error as `cause`);
 *   one that could not connect (refused, unknown host, timed out, login refused, no such database)
 *   also names the server's address, the database and what to check (never the password);
 *   a refused save with `SnapshotConflictError`; unreadable `data` with `SnapshotCorruptedError`.
 * - **Abort:** the signal is checked before the call and again before the query is sent; a call
 *   whose signal aborts later (waiting for a pool connection, or for a server that hangs) rejects at
 *   once with its reason, though pg cannot take the query back: it may still run and commit, which
 *   the next compare-and-set sees. A `claim()` waits for its statement. pg's `query_timeout` bounds
 *   every call against a server that stopped answering; `statement_timeout` cannot, as the server enforces it.
 * - **Keys** are stored with backslash, NUL, lone surrogates and a leading U+FEFF (which PGlite
 *   drops) escaped as `\uXXXX`; other keys read as themselves in SQL. An instance's two keys must
 *   fit a btree index entry (2,704 bytes after compression): a save of longer ones rejects with
 *   `PersistenceError`, storing nothing. A custom codec must return well-formed text without NUL.
 */
const waitsForItsStatement: ReadonlySet<ProviderCall> = new Set(["save", "delete", "claim"]);

export class PostgresPersistenceProvider implements WorkflowPersistenceProvider {
  readonly capabilities: ProviderCapabilities;
  /** The validated table name. */
  readonly tableName: string;
  /** The validated schema name, if one was given. */
  readonly schema: string | undefined;
  readonly #client: PostgresClient;
  readonly #codec: SnapshotCodec;
  readonly #sql: PostgresStatements;
  readonly #listen: ReturnType<typeof listenerOf>;
  readonly #named: ReadonlyMap<string, NamedQuery> | undefined; // preparedStatements: what each text is sent as
  readonly #writer: GroupedWriter;
  readonly #sender: SendQuery = (call, keys, signal, text, values) => this.#query(call, keys, signal, text, values);
  // Kept once created: a failed attempt is forgotten so that the next call tries again.
  readonly #schemaReady = new SetupOnce(() => this.#createTable());

  constructor(options: PostgresPersistenceProviderOptions) {
    const { client, tableName, schema, codec, preparedStatements } = validateOptions(options);
    this.#client = client;
    this.#codec = codec;
    this.tableName = tableName;
    this.schema = schema;
    const sql = (this.#sql = postgresStatements(tableName, schema));
    const batches = batchTexts(sql.table, sql.mailbox);
    const single = [sql.insert, sql.update, sql.insertWaiting, sql.updateWaiting, sql.select, sql.remove, sql.deliver, sql.markLate, sql.receive];
    this.#named = preparedStatements ? namedQueries([...single, ...batches.save, ...batches.delete]) : undefined;
    const failure = (call: ProviderCall, keys: SnapshotKeys, cause: unknown): PersistenceError => this.#driverFailure(call, keys, cause);
    this.#writer = new GroupedWriter({ send: this.#sender, sql, codec, batches, ready: () => this.#schemaReady.done, failure });
    this.#listen = listenerOf(client);
    this.capabilities = Object.freeze({ compareAndSet: true, list: true, claim: true, mailbox: true, push: this.#listen !== undefined });
  }

  /**
   * Creates the schema (when given) and the table if missing. Idempotent and safe to run from many
   * processes at once. Runs by itself on first use; call it from a deploy step to create the table
   * ahead of time. Rejects with the driver's error.
   */
  async migrate(): Promise<void> {
    await this.#createTable();
    this.#schemaReady.set(Promise.resolve());
  }

  /**
   * Rejects with `SnapshotConflictError` unless the stored revision is `snapshot.revision - 1`.
   * Saves that arrive while one is in flight go together in its next statement.
   */
  async save(snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    // Grouped saves share a statement sent without any one caller's signal: each caller stops waiting on its own.
    await untilAborted(this.#writer.save(snapshot, signal), signal);
  }

  async tryLoad(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): Promise<WorkflowExecutionSnapshot | undefined> {
    throwIfAborted(signal);
    const keys = { foundryExecutionId, workflowId };
    const { rows } = await this.#query("tryLoad", keys, signal, this.#sql.select, [encodeKey(foundryExecutionId), encodeKey(workflowId)]);
    const row = rows[0] as Row | undefined;
    return row === undefined ? undefined : withClaimColumns(this.#decode(row.data, keys), row);
  }

  async delete(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    await untilAborted(this.#writer.delete({ foundryExecutionId, workflowId }, signal), signal);
  }

  /**
   * Snapshots matching `filter`, in no particular order. Every field of the filter is applied in SQL
   * and only matching rows are decoded; the whole result is read into memory at once. A row that
   * cannot be decoded (its data, or key columns no save writes) rejects the call with
   * `SnapshotCorruptedError`, or with `options.onUnreadable` is handed to it and left out.
   */
  async list(filter: SnapshotFilter = {}, signal?: AbortSignal, options?: ListOptions): Promise<WorkflowExecutionSnapshot[]> {
    throwIfAborted(signal);
    const read = listedReader(filter, options, "PostgresPersistenceProvider");
    const query = this.#sql.list(filter);
    if (query === undefined) return [];
    const { rows } = await this.#query("list", listKeys(filter), signal, query.text, query.values);
    return (rows as Row[]).flatMap((row) => read(() => withClaimColumns(this.#decode(row.data, keysOf(row)), row)) ?? []);
  }

  /**
   * Claims up to `request.limit` claimable rows in one statement (`UPDATE ... FROM (SELECT ... FOR
   * UPDATE SKIP LOCKED)`): workers claiming at once take different rows instead of waiting for or
   * racing each other. The claim writes the row's revision, owner, lease, attempts and updated_at
   * columns and leaves its data as it was; reads put those columns over the data until the next save.
   * A claim that rejects (a row it cannot read, without `onUnreadable`) gives back every row it took
   * in a second statement, so it takes nothing.
   */
  async claim(request: ClaimRequest, signal?: AbortSignal, options?: ListOptions): Promise<WorkflowExecutionSnapshot[]> {
    throwIfAborted(signal);
    const read = listedReader(undefined, options, "PostgresPersistenceProvider");
    const claimed = { owner: request.owner, lease_ms: Date.parse(request.leaseExpiresAt), updated_ms: Date.parse(request.now) };
    return claimRows(this.#sender, this.#sql, request, signal, (row) => read(() => withClaimColumns(this.#decode(row.data, keysOf(row)), { ...row, ...claimed })));
  }

  /**
   * Stores `event` unless its instance has its `eventId` already, and when the instance's row is
   * `waiting` for `event.name`, marks it due and notifies `subscribe`'s listeners, all in one
   * statement (a second one, marking only, when the instance had no row yet). Resolves whether it
   * stored the event.
   */
  deliver(event: DeliveredEvent, signal?: AbortSignal): Promise<boolean> {
    return deliverEvent(this.#sender, this.#sql, this.#codec, event, signal);
  }

  /** The instance's events named `name`, oldest delivery first: one statement. */
  receive(keys: SnapshotKeys, name: string, signal?: AbortSignal): Promise<DeliveredEvent[]> {
    return receiveEvents(this.#sender, this.#sql, this.#codec, keys, name, signal);
  }

  /**
   * Calls `listener` when a delivery from any process marks a record of this table due: LISTEN on
   * a connection taken from the pool for it (held until the returned function, or `signal`, stops
   * it), or PGlite's `listen`. Declared by `capabilities.push` for a pg Pool of `max >= 2` and for
   * PGlite. A lost connection calls `listener` (what was sent meanwhile is lost), and listening
   * resumes on a new connection, retried every 0.1 s to 5 s until stopped.
   */
  async subscribe(listener: () => void, signal?: AbortSignal): Promise<() => Promise<void>> {
    const listen = this.#listen;
    if (listen === undefined) throw new TypeError("PostgresPersistenceProvider.subscribe: the client is neither a pg Pool of max >= 2 nor PGlite, so it cannot listen");
    if (typeof listener !== "function") throw new TypeError("PostgresPersistenceProvider.subscribe(listener): listener must be a function");
    try {
      return await listen(this.#sql.channel, listener, signal);
    } catch (error) {
      if (isWorkflowForgeError(error)) throw error;
      throw new PersistenceError({ source, call: "subscribe", keys: anyInstance, cause: error, detail: postgresConnectionDetail(this.#client, error) });
    }
  }

  async #createTable(): Promise<void> {
    try {
      await this.#client.query(this.#sql.migrate);
    } catch (error) {
      // The advisory lock in the statement serialises our own creators; this covers a creator that
      // does not take it (an older deploy, a hand-run script). The retry finds the table and passes.
      if (typeof error !== "object" || error === null || !createRaceCodes.has((error as { code?: unknown }).code)) throw error;
      await this.#client.query(this.#sql.migrate);
    }
  }

  // Once the table is known to exist, straight to the client: no wait on the settled setup per statement.
  #query(call: ProviderCall, keys: SnapshotKeys, signal: AbortSignal | undefined, text: string, values: unknown[]): Promise<PostgresQueryResult> {
    return this.#schemaReady.done ? this.#send(call, keys, signal, text, values) : this.#setUpThenSend(call, keys, signal, text, values);
  }

  async #setUpThenSend(call: ProviderCall, keys: SnapshotKeys, signal: AbortSignal | undefined, text: string, values: unknown[]): Promise<PostgresQueryResult> {
    try {
      // Nothing is sent before the table is ready: any call may stop waiting for it.
      await untilAborted(this.#schemaReady.get(), signal);
    } catch (error) {
      if (isAbortOf(error, signal)) throw error;
      const detail = postgresConnectionDetail(this.#client, error) ?? `creating table ${this.#sql.table} failed: ${messageOf(error)}`;
      throw new PersistenceError({ source, call, keys, cause: error, detail });
    }
    return this.#send(call, keys, signal, text, values);
  }

  async #send(call: ProviderCall, keys: SnapshotKeys, signal: AbortSignal | undefined, text: string, values: unknown[]): Promise<PostgresQueryResult> {
    throwIfAborted(signal);
    try {
      const named = this.#named?.get(text);
      const query = named === undefined ? this.#client.query(text, values) : (this.#client as PostgresPreparingClient).query(named(values));
      // pg cannot take a query back: an aborted caller stops waiting (for a connection, for a server
      // that hangs) and the statement may still run. Not a write: save() and delete() stop waiting
      // themselves, while their instance's next write waits for the statement, which may still
      // commit. Not a claim: rows it took with no one waiting would stay claimed until their lease ran out.
      return await (waitsForItsStatement.has(call) ? query : untilAborted(query, signal));
    } catch (error) {
      if (isWorkflowForgeError(error) || isAbortOf(error, signal)) throw error;
      throw this.#driverFailure(call, keys, error);
    }
  }

  #driverFailure(call: ProviderCall, keys: SnapshotKeys, error: unknown): PersistenceError {
    return new PersistenceError({ source, call, keys, cause: error, detail: postgresConnectionDetail(this.#client, error) });
  }

  #decode(data: unknown, keys: SnapshotKeys): WorkflowExecutionSnapshot {
    if (typeof data !== "string") throw new SnapshotCorruptedError(keys, `the data column holds ${data === null ? "NULL" : typeof data}, not text`);
    return decodeFromStorage(this.#codec, data, keys);
  }
}
