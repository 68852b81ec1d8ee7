import type { ClaimRequest, SnapshotFilter } from "../provider.js";

// What the two SQL providers build alike: a filter's WHERE clauses and the list and claim queries
// around them. Only the placeholder (`?` or `$n`) and the stored form of a workflow id differ.

/** A statement's text and its parameters, in order. */
export interface SqlQuery {
  readonly text: string;
  readonly values: unknown[];
}

/** The statements a SQL provider runs against its one table. */
export interface SqlStatementTexts {
  readonly migrate: string;
  readonly insert: string;
  readonly update: string;
  readonly select: string;
  readonly remove: string;
  /** Undefined when the filter can match nothing (an empty status list, an invalid date), as in matchesFilter. */
  list(filter: SnapshotFilter): SqlQuery | undefined;
  /** One statement claiming up to `limit` claimable rows, returning each with its new revision and the data it had. */
  claim(request: ClaimRequest): SqlQuery | undefined;
}

/** How one SQL dialect writes a statement's parameters and stored keys. */
export interface SqlDialect {
  /** Appends `value` to `values` and returns its placeholder. */
  param(values: unknown[], value: unknown): string;
  /** A workflow id as its column stores it. */
  storedWorkflowId(workflowId: string): unknown;
}

/** The WHERE clauses of `filter`, their values appended to `values`; undefined when it matches nothing. */
export function filterClauses(dialect: SqlDialect, filter: SnapshotFilter, values: unknown[]): string[] | undefined {
  const clauses: string[] = [];
  const param = (value: unknown): string => dialect.param(values, value);
  const { status, workflowId, workflowName, updatedBefore } = filter;
  if (status !== undefined) {
    const statuses = typeof status === "string" ? [status] : [...status];
    if (statuses.length === 0) return undefined;
    clauses.push(`status IN (${statuses.map(param).join(", ")})`);
  }
  if (workflowId !== undefined) clauses.push(`workflow_id = ${param(dialect.storedWorkflowId(workflowId))}`);
  if (workflowName !== undefined) clauses.push(`workflow_name = ${param(workflowName)}`);
  if (updatedBefore !== undefined) {
    const before = new Date(updatedBefore).getTime();
    if (Number.isNaN(before)) return undefined;
    clauses.push(`updated_at < ${param(new Date(before).toISOString())}`);
  }
  return clauses;
}

/** `SELECT <columns> FROM <table>` narrowed by `filter`; undefined when the filter matches nothing. */
export function listQuery(dialect: SqlDialect, table: string, columns: string, filter: SnapshotFilter): SqlQuery | undefined {
  const values: unknown[] = [];
  const clauses = filterClauses(dialect, filter, values);
  if (clauses === undefined) return undefined;
  const condition = clauses.length === 0 ? "" : ` WHERE ${clauses.join(" AND ")}`;
  return { text: `SELECT ${columns} FROM ${table}${condition}`, values };
}

/**
 * The clauses a claim narrows by: the request's filter, with only unfinished statuses (a claim
 * never takes a completed record), their values appended to `values`; undefined when nothing matches.
 */
export function claimFilterClauses(dialect: SqlDialect, request: ClaimRequest, values: unknown[]): string[] | undefined {
  const statuses = [request.filter?.status ?? ["running", "failed", "compensating"]].flat().filter((status) => status !== "completed");
  return filterClauses(dialect, { ...request.filter, status: statuses }, values);
}
