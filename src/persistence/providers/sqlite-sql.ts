import type { SnapshotFilter } from "../provider.js";
import { storedKey } from "./stored-keys.js";

// The SQL of SqlitePersistenceProvider and what it reads back, apart from the class so each file stays readable.

/** A row list() reads. */
export interface SqliteRow {
  readonly instance_id: unknown;
  readonly workflow_id: unknown;
  readonly data: unknown;
}

export interface SqliteStatementTexts {
  readonly migrate: string;
  readonly insert: string;
  readonly update: string;
  readonly select: string;
  readonly revision: string;
  readonly remove: string;
  /** Undefined when the filter can match nothing (an empty status list, an invalid date), as in matchesFilter. */
  list(filter: SnapshotFilter): { sql: string; params: unknown[] } | undefined;
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
  const clauses: string[] = [];
  const params: unknown[] = [];
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
  const condition = clauses.length === 0 ? "" : ` WHERE ${clauses.join(" AND ")}`;
  return { sql: `SELECT instance_id, workflow_id, data FROM ${table}${condition}`, params };
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
        PRIMARY KEY (instance_id, workflow_id)
      );
      CREATE INDEX IF NOT EXISTS "${tableName}_status_updated_at" ON ${table} (status, updated_at);`,
    insert:
      `INSERT INTO ${table} (instance_id, workflow_id, revision, status, workflow_name, updated_at, data) VALUES (?, ?, ?, ?, ?, ?, ?) ` +
      "ON CONFLICT (instance_id, workflow_id) DO NOTHING",
    update: `UPDATE ${table} SET revision = ?, status = ?, workflow_name = ?, updated_at = ?, data = ? ${byKeys} AND revision = ?`,
    select: `SELECT data FROM ${table} ${byKeys}`,
    revision: `SELECT revision FROM ${table} ${byKeys}`,
    remove: `DELETE FROM ${table} ${byKeys}`,
    list: (filter) => listStatement(table, filter),
  };
}
