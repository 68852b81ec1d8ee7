import type { ClaimRequest, SnapshotFilter } from "../provider.js";
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

export interface SqliteStatementTexts {
  readonly migrate: string;
  readonly insert: string;
  readonly update: string;
  readonly select: string;
  readonly remove: string;
  /** The claim's columns, added to a table made before claim() existed (when `PRAGMA table_info` lacks them). */
  readonly addClaimColumns: string;
  /** Undefined when the filter can match nothing (an empty status list, an invalid date), as in matchesFilter. */
  list(filter: SnapshotFilter): { sql: string; params: unknown[] } | undefined;
  /** One statement claiming up to `limit` claimable rows, returning each with its new revision. */
  claim(request: ClaimRequest): { sql: string; params: unknown[] } | undefined;
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

function listStatement(table: string, filter: SnapshotFilter): { sql: string; params: unknown[] } | undefined {
  const params: unknown[] = [];
  const clauses = filterClauses(filter, params);
  if (clauses === undefined) return undefined;
  const condition = clauses.length === 0 ? "" : ` WHERE ${clauses.join(" AND ")}`;
  return { sql: `SELECT instance_id, workflow_id, data, ${claimColumns} FROM ${table}${condition}`, params };
}

// isClaimable in SQL; the (status, updated_at) index narrows it to unfinished rows. Leases are
// canonical ISO text (as updated_at), which sorts as its instant, so no save parses a date. One statement
// holds the database's write lock, so two claimers never take one row.
function claimStatement(table: string, request: ClaimRequest): { sql: string; params: unknown[] } | undefined {
  const { owner, leaseExpiresAt, now, maxAttempts, limit, filter } = request;
  const params: unknown[] = [owner, canonicalTime(leaseExpiresAt), canonicalTime(now)];
  const statuses = [filter?.status ?? ["running", "failed", "compensating"]].flat().filter((status) => status !== "completed");
  const clauses = filterClauses({ ...filter, status: statuses }, params);
  if (clauses === undefined) return undefined;
  params.push(canonicalTime(now), maxAttempts, limit);
  const claimable = [...clauses, "(lease_expires_at IS NULL OR lease_expires_at <= ?)", "NOT (status IN ('failed', 'compensating') AND COALESCE(attempts, 0) >= ?)"];
  const sql =
    `UPDATE ${table} SET revision = revision + 1, owner = ?, lease_expires_at = ?, updated_at = ?, attempts = COALESCE(attempts, 0) + 1 ` +
    `WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${claimable.join(" AND ")} LIMIT ?) RETURNING instance_id, workflow_id, data, revision`;
  return { sql, params };
}

// The WHERE clauses of `filter`, their values appended to `params`; undefined when it matches nothing.
function filterClauses(filter: SnapshotFilter, params: unknown[]): string[] | undefined {
  const clauses: string[] = [];
  const { status, workflowId, workflowName, updatedBefore } = filter;
  if (status !== undefined) {
    const statuses = typeof status === "string" ? [status] : [...status];
    if (statuses.length === 0) return undefined;
    clauses.push(`status IN (${statuses.map(() => "?").join(", ")})`);
    params.push(...statuses);
  }
  for (const [column, value] of [["workflow_id", workflowId === undefined ? undefined : storedKey(workflowId)], ["workflow_name", workflowName]] as const) {
    if (value === undefined) continue;
    clauses.push(`${column} = ?`);
    params.push(value);
  }
  if (updatedBefore !== undefined) {
    const before = new Date(updatedBefore).getTime();
    if (Number.isNaN(before)) return undefined;
    clauses.push("updated_at < ?");
    params.push(new Date(before).toISOString());
  }
  return clauses;
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
    list: (filter) => listStatement(table, filter),
    claim: (request) => claimStatement(table, request),
  };
}
