import { unfinishedStatuses, type ClaimRequest } from "../provider.js";
import { claimableClauses, listQuery, markedDue, type SqlDialect, type SqlQuery, type SqlStatementTexts } from "./sql-query.js";
import type { SqliteDatabase } from "./sqlite-options.js";
import { storedKey } from "./stored-keys.js";

// The SQL of SqlitePersistenceProvider and what it reads back, apart from the class so each file stays readable.

/** A row list() and claim() read: beside the data, the columns a claim writes without rewriting it. */
export interface SqliteRow {
  /** Returned by claim(), which leaves out the rows it could not read when it claims again. */
  readonly rowid?: unknown;
  readonly instance_id: unknown;
  readonly workflow_id: unknown;
  readonly data: unknown;
  readonly revision?: unknown;
  readonly owner?: unknown;
  readonly lease_expires_at?: unknown;
  readonly updated_at?: unknown;
}

// What a read selects beside the data, for withClaimColumns.
const claimColumns = "revision, owner, lease_expires_at, updated_at";

export interface SqliteStatementTexts extends SqlStatementTexts {
  /** Columns older versions' tables lack, each with the statement that adds it (when `PRAGMA table_info` lacks it). */
  readonly addedColumns: readonly (readonly [column: string, statement: string])[];
  /** What needs the added columns: the index of due waiting rows, the mailbox and its trigger. */
  readonly migrateWaits: string;
  /** Stores an event unless its id is there. */
  readonly storeEvent: string;
  /** Marks the instance's row due when it waits for the event's name. */
  readonly markDue: string;
  /**
   * `insert` and `update` of a waiting row, its `wake_ms` marked due when the mailbox holds an
   * event of the awaited name whose id is not in the JSON array of consumed ids: values as theirs,
   * with the name and that array before `wake_ms` (and, for the insert, the keys before those).
   */
  readonly insertWaiting: string;
  readonly updateWaiting: string;
  /** An instance's events of one name, oldest first. */
  readonly receive: string;
  /** An instance's events, for a delete that found no row (the trigger removes them with a row). */
  readonly removeEvents: string;
  /** As in SqlStatementTexts, passing over the rows of `excluded` (rowids). */
  claim(request: ClaimRequest, excluded?: readonly number[]): SqlQuery | undefined;
}

/**
 * What the provider names after its table, by the suffix it appends, and what each names. A table
 * name ending in one would be another provider's mailbox or index: the options refuse it.
 */
export const derivedSuffixes = {
  _mailbox: "the events table",
  _mailbox_delete: "the trigger removing events",
  _due: "the index of due waiting rows",
  _status_updated_at: "the index of recovery scans",
} as const;

// Every derived name is made here, so that the list above is the whole of them.
const derived = (tableName: string, suffix: keyof typeof derivedSuffixes): string => `"${tableName}${suffix}"`;

/** What a non-text data column holds, for the error. */
export function columnValue(data: unknown): string {
  if (data === null) return "NULL";
  return data instanceof Uint8Array ? "a BLOB" : typeof data;
}

// The shape toISOString writes, which the engine uses: such text already sorts as its instant.
const isoUtc = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/**
 * `updated_at` in canonical ISO form, so that `updated_at < ?` orders instants whatever offset the
 * snapshot was written with. Unparseable text is kept as is; list() re-checks every match exactly.
 */
export function canonicalTime(text: string): string {
  // The shape test spares the usual save a Date parse and format, the dearest step of its own work.
  if (isoUtc.test(text)) return text;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? text : new Date(ms).toISOString();
}

const dialect: SqlDialect = {
  param: (values, value) => (values.push(value), "?"),
  storedText: storedKey,
};

// isClaimable in SQL; the (status, updated_at) index narrows it to unfinished rows, the partial
// index on waiting rows' wake_ms to the due ones. Leases are canonical ISO text (as updated_at),
// which sorts as its instant, so no save parses a date. One statement holds the database's write
// lock, so two claimers never take one row. It claims nothing once its lease has ended by the
// clock it reads after taking that lock (claimArrivedLate): a busy wait past the lease is a stall.
//
// SQLite's planner reads an OR of the two kinds through the status index, which walks every waiting
// row; so the waiting rows are found by their own subquery, made to use the due index.
function claimStatement(table: string, tableName: string, request: ClaimRequest, excluded: readonly number[]): SqlQuery | undefined {
  const { owner, leaseExpiresAt, now, maxAttempts, limit } = request;
  const values: unknown[] = [owner, canonicalTime(leaseExpiresAt), canonicalTime(now), Date.parse(leaseExpiresAt)];
  const param = (value: unknown): string => dialect.param(values, value);
  const params = { now: () => param(canonicalTime(now)), nowMs: () => param(Date.parse(now)), maxAttempts: () => param(maxAttempts) };
  const wanted = [request.filter?.status ?? unfinishedStatuses].flat();
  const kinds = [wanted.filter((status) => status !== "waiting"), wanted.filter((status) => status === "waiting")];
  const selects = kinds.flatMap((statuses) => {
    const clauses = statuses.length === 0 ? undefined : claimableClauses(dialect, { ...request, filter: { ...request.filter, status: statuses } }, values, params);
    const source = statuses[0] === "waiting" ? `${table} INDEXED BY ${derived(tableName, "_due")}` : table;
    return clauses === undefined ? [] : [`SELECT rowid FROM ${source} WHERE ${clauses.join(" AND ")}`];
  });
  if (selects.length === 0) return undefined;
  const passedOver = excluded.length === 0 ? "" : ` WHERE rowid NOT IN (${excluded.map((rowid) => param(rowid)).join(", ")})`;
  values.push(limit);
  const text =
    `UPDATE ${table} SET revision = revision + 1, owner = ?, lease_expires_at = ?, updated_at = ?, attempts = COALESCE(attempts, 0) + 1 ` +
    `WHERE ? > (julianday('now') - 2440587.5) * 86400000.0 AND rowid IN (SELECT rowid FROM (${selects.join(" UNION ALL ")})${passedOver} LIMIT ?) RETURNING rowid, instance_id, workflow_id, data, revision`;
  return { text, values };
}

// Tables made before claim() and before waits lack these; ALTER TABLE adds one column at a time.
const addedColumns = [
  ["owner", "TEXT"],
  ["lease_expires_at", "TEXT"],
  ["attempts", "INTEGER"],
  ["waiting_for", "TEXT"],
  ["wake_ms", "INTEGER"],
] as const;

// The mailbox of a table: its rowid orders deliveries (a new rowid is above every stored one), and
// a trigger removes an instance's events with its row, so delete stays one statement.
function migrateWaits(tableName: string): string {
  const [table, mailbox] = [`"${tableName}"`, derived(tableName, "_mailbox")];
  return `CREATE INDEX IF NOT EXISTS ${derived(tableName, "_due")} ON ${table} (wake_ms) WHERE status = 'waiting';
    CREATE TABLE IF NOT EXISTS ${mailbox} (
      seq INTEGER PRIMARY KEY,
      instance_id TEXT NOT NULL,
      workflow_id TEXT NOT NULL,
      event_id TEXT NOT NULL,
      name TEXT NOT NULL,
      payload TEXT NOT NULL,
      sent_at TEXT NOT NULL,
      UNIQUE (instance_id, workflow_id, event_id)
    );
    CREATE TRIGGER IF NOT EXISTS ${derived(tableName, "_mailbox_delete")} AFTER DELETE ON ${table} BEGIN
      DELETE FROM ${mailbox} WHERE instance_id = old.instance_id AND workflow_id = old.workflow_id;
    END;`;
}

// A waiting save's wake_ms: marked due when the mailbox already holds an event the wait would take
// (delivered while the run ran or saved, when no delivery could mark the row). One statement, and
// SQLite runs one writer at a time, so a delivery lands wholly before it (seen here) or after it
// (marking the row itself): the run that saved may die before its re-read of the mailbox.
function dueWhenHeld(mailbox: string, instance: string, workflow: string): string {
  const held = `SELECT 1 FROM ${mailbox} AS held WHERE held.instance_id = ${instance} AND held.workflow_id = ${workflow} AND held.name = ? AND held.event_id NOT IN (SELECT value FROM json_each(?))`;
  return `CASE WHEN EXISTS (${held}) THEN ${markedDue} ELSE ? END`;
}

/** Whether `database` has a table named `name`. */
export function hasTable(database: SqliteDatabase, name: string): boolean {
  return database.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

/** The tables of `tableName` this version makes (it and its events table) that `database` lacks. */
export function missingTables(database: SqliteDatabase, tableName: string): string[] {
  return [tableName, `${tableName}_mailbox`].filter((name) => !hasTable(database, name));
}

/**
 * Throws, naming what is missing, when a read-only `database` lacks the table or the events table
 * this version makes: a read-only connection cannot create or upgrade them.
 */
export function requireReadableTables(database: SqliteDatabase, tableName: string): void {
  const missing = missingTables(database, tableName);
  if (missing.length === 0) return;
  throw new Error(
    `the Database was opened with { readonly: true } and has no table ${missing.map((name) => JSON.stringify(name)).join(" or ")} as this version makes it, ` +
      "which a read-only connection cannot create: open it writable once, or call migrate() on a writable one from a deploy step",
  );
}

/** Every statement for one table; the name was validated as an identifier before it gets here. */
export function sqliteStatements(tableName: string): SqliteStatementTexts {
  const table = `"${tableName}"`;
  const mailbox = derived(tableName, "_mailbox");
  const byKeys = "WHERE instance_id = ? AND workflow_id = ?";
  return {
    migrate: `CREATE TABLE IF NOT EXISTS ${table} (
        instance_id TEXT NOT NULL,
        workflow_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        status TEXT NOT NULL,
        workflow_name TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        data TEXT NOT NULL,
        owner TEXT,
        lease_expires_at TEXT,
        attempts INTEGER,
        waiting_for TEXT,
        wake_ms INTEGER,
        PRIMARY KEY (instance_id, workflow_id)
      );
      CREATE INDEX IF NOT EXISTS ${derived(tableName, "_status_updated_at")} ON ${table} (status, updated_at);`,
    addedColumns: addedColumns.map(([column, type]) => [column, `ALTER TABLE ${table} ADD COLUMN ${column} ${type}`] as const),
    migrateWaits: migrateWaits(tableName),
    insert:
      `INSERT INTO ${table} (instance_id, workflow_id, revision, status, workflow_name, updated_at, data, owner, lease_expires_at, attempts, waiting_for, wake_ms) ` +
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (instance_id, workflow_id) DO NOTHING",
    update:
      `UPDATE ${table} SET revision = ?, status = ?, workflow_name = ?, updated_at = ?, data = ?, owner = ?, lease_expires_at = ?, attempts = ?, waiting_for = ?, wake_ms = ? ` +
      `${byKeys} AND revision = ?`,
    select: `SELECT data, ${claimColumns} FROM ${table} ${byKeys}`,
    remove: `DELETE FROM ${table} ${byKeys}`,
    storeEvent: `INSERT INTO ${mailbox} (instance_id, workflow_id, event_id, name, payload, sent_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (instance_id, workflow_id, event_id) DO NOTHING`,
    markDue: `UPDATE ${table} SET wake_ms = ${markedDue} ${byKeys} AND status = 'waiting' AND waiting_for = ?`,
    insertWaiting:
      `INSERT INTO ${table} (instance_id, workflow_id, revision, status, workflow_name, updated_at, data, owner, lease_expires_at, attempts, waiting_for, wake_ms) ` +
      `VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ${dueWhenHeld(mailbox, "?", "?")}) ON CONFLICT (instance_id, workflow_id) DO NOTHING`,
    updateWaiting:
      `UPDATE ${table} SET revision = ?, status = ?, workflow_name = ?, updated_at = ?, data = ?, owner = ?, lease_expires_at = ?, attempts = ?, waiting_for = ?, ` +
      `wake_ms = ${dueWhenHeld(mailbox, `${table}.instance_id`, `${table}.workflow_id`)} ${byKeys} AND revision = ?`,
    receive: `SELECT event_id, payload, sent_at FROM ${mailbox} ${byKeys} AND name = ? ORDER BY seq`,
    removeEvents: `DELETE FROM ${mailbox} ${byKeys}`,
    list: (filter) => listQuery(dialect, table, `instance_id, workflow_id, data, ${claimColumns}`, filter),
    claim: (request, excluded = []) => claimStatement(table, tableName, request, excluded),
  };
}
