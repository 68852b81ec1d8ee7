import type { ClaimRequest } from "../provider.js";
import { claimFilterClauses, listQuery, type SqlDialect, type SqlQuery, type SqlStatementTexts } from "./sql-query.js";
import { storedKey } from "./stored-keys.js";

// The SQL of SqlitePersistenceProvider and what it reads back, apart from the class so each file stays readable.

/** A row list() and claim() read: beside the data, the columns a claim writes without rewriting it. */
export interface SqliteRow {
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
  /** The claim's columns, added to a table made before claim() existed (when `PRAGMA table_info` lacks them). */
  readonly addClaimColumns: string;
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
  storedWorkflowId: storedKey,
};

// isClaimable in SQL; the (status, updated_at) index narrows it to unfinished rows. Leases are
// canonical ISO text (as updated_at), which sorts as its instant, so no save parses a date. One statement
// holds the database's write lock, so two claimers never take one row.
function claimStatement(table: string, request: ClaimRequest): SqlQuery | undefined {
  const { owner, leaseExpiresAt, now, maxAttempts, limit } = request;
  const values: unknown[] = [owner, canonicalTime(leaseExpiresAt), canonicalTime(now)];
  const clauses = claimFilterClauses(dialect, request, values);
  if (clauses === undefined) return undefined;
  values.push(canonicalTime(now), maxAttempts, limit);
  const claimable = [...clauses, "(lease_expires_at IS NULL OR lease_expires_at <= ?)", "NOT (status IN ('failed', 'compensating') AND COALESCE(attempts, 0) >= ?)"];
  const text =
    `UPDATE ${table} SET revision = revision + 1, owner = ?, lease_expires_at = ?, updated_at = ?, attempts = COALESCE(attempts, 0) + 1 ` +
    `WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${claimable.join(" AND ")} LIMIT ?) RETURNING instance_id, workflow_id, data, revision`;
  return { text, values };
}


/** Every statement for one table; the name was validated as an identifier before it gets here. */
export function sqliteStatements(tableName: string): SqliteStatementTexts {
  const table = `"${tableName}"`;
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
        PRIMARY KEY (instance_id, workflow_id)
      );
      CREATE INDEX IF NOT EXISTS "${tableName}_status_updated_at" ON ${table} (status, updated_at);`,
    insert:
      `INSERT INTO ${table} (instance_id, workflow_id, revision, status, workflow_name, updated_at, data, owner, lease_expires_at, attempts) ` +
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (instance_id, workflow_id) DO NOTHING",
    update:
      `UPDATE ${table} SET revision = ?, status = ?, workflow_name = ?, updated_at = ?, data = ?, owner = ?, lease_expires_at = ?, attempts = ? ` +
      `${byKeys} AND revision = ?`,
    select: `SELECT data, ${claimColumns} FROM ${table} ${byKeys}`,
    remove: `DELETE FROM ${table} ${byKeys}`,
    addClaimColumns: `ALTER TABLE ${table} ADD COLUMN owner TEXT; ALTER TABLE ${table} ADD COLUMN lease_expires_at TEXT; ALTER TABLE ${table} ADD COLUMN attempts INTEGER;`,
    list: (filter) => listQuery(dialect, table, `instance_id, workflow_id, data, ${claimColumns}`, filter),
    claim: (request) => claimStatement(table, request),
  };
}
