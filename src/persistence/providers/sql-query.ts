import { unfinishedStatuses, type ClaimRequest, type SnapshotFilter } from "../provider.js";
import type { SnapshotStatus } from "../snapshot.js";

// What the two SQL providers build alike: a filter's WHERE clauses and the list and claim queries
// around them. Only the placeholder (`?` or `$n`) and the stored form of a workflow id or name differ.

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
  /** A workflow id or name as its column stores it (one spelling per string, none merged). */
  storedText(text: string): unknown;
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
  if (workflowId !== undefined) clauses.push(`workflow_id = ${param(dialect.storedText(workflowId))}`);
  if (workflowName !== undefined) clauses.push(workflowNameClause(dialect, workflowName, param));
  if (updatedBefore !== undefined) {
    const before = new Date(updatedBefore).getTime();
    if (Number.isNaN(before) || before <= firstFourDigitYear) return undefined;
    if (before <= lastFourDigitYear) clauses.push(`updated_at < ${param(new Date(before).toISOString())}`);
  }
  return clauses;
}

// An instant outside the years 0001 to 9999 has no four-digit ISO form Postgres reads (it has no
// year 0, and refuses "+275760-09-13T…"), and SQLite sorts "+…" before every year. Saves write no
// such time, so a bound past 9999 (`new Date(8.64e15)`, a usual "no limit") leaves nothing out, and
// one before 0001 all.
const firstFourDigitYear = Date.parse("0001-01-01T00:00:00.000Z");
const lastFourDigitYear = Date.parse("9999-12-31T23:59:59.999Z");

// The name as saves store it, and as an earlier version stored it (raw) when that differs and could
// be stored at all: a row not saved since still matches, or a coordinator filtered by its name would
// never claim, and so never save, it. Not a name with NUL (Postgres could not store it) or a lone
// surrogate (raw, it would match another name's row, the merge the escaping ends).
// eslint-disable-next-line no-control-regex -- NUL is what decides it
const rawUnsafe = /[\u0000\uD800-\uDFFF]/;
function workflowNameClause(dialect: SqlDialect, workflowName: string, param: (value: unknown) => string): string {
  const stored = dialect.storedText(workflowName);
  if (stored === workflowName || rawUnsafe.test(workflowName)) return `workflow_name = ${param(stored)}`;
  return `workflow_name IN (${param(stored)}, ${param(workflowName)})`;
}

/** `SELECT <columns> FROM <table>` narrowed by `filter`; undefined when the filter matches nothing. */
export function listQuery(dialect: SqlDialect, table: string, columns: string, filter: SnapshotFilter): SqlQuery | undefined {
  const values: unknown[] = [];
  const clauses = filterClauses(dialect, filter, values);
  if (clauses === undefined) return undefined;
  const condition = clauses.length === 0 ? "" : ` WHERE ${clauses.join(" AND ")}`;
  return { text: `SELECT ${columns} FROM ${table}${condition}`, values };
}

// The statuses a claim runs without waiting for a due time, and those it never runs again once
// their attempts reached the limit. Written as literals: they come from this fixed list, never from
// input, and a partial index on waiting rows serves only a literal `status = 'waiting'`.
const activeStatuses: readonly SnapshotStatus[] = ["running", "failed", "compensating"];

/** The SQL literal of statuses from {@link unfinishedStatuses}. */
const literals = (statuses: readonly SnapshotStatus[]): string => statuses.map((status) => `'${status}'`).join(", ");

/**
 * The placeholders of a claim's instants and limit, each made when its clause is written, in the
 * order of the text (positional `?` parameters must be pushed in that order).
 */
export interface ClaimParams {
  /** `request.now` as the lease column compares it. */
  now(): string;
  /** `request.now` in epoch milliseconds, as the `wake_ms` column compares it. */
  nowMs(): string;
  maxAttempts(): string;
}

/**
 * The clauses of {@link isClaimable} in SQL, for rows with the columns `status`, `attempts`,
 * `lease_expires_at` and `wake_ms` (a waiting row's due time in epoch milliseconds, or the mark a
 * delivery leaves): the request's filter, unfinished statuses only, no live lease, no dead letter,
 * and a waiting row only once due. The waiting arm is `status = 'waiting' AND wake_ms <= now` so
 * that an index on `wake_ms` of waiting rows finds what is due without reading what is not.
 * Undefined when nothing can match.
 */
export function claimableClauses(dialect: SqlDialect, request: ClaimRequest, values: unknown[], params: ClaimParams): string[] | undefined {
  const { status = unfinishedStatuses, ...filter } = request.filter ?? {};
  const wanted = [status].flat();
  const active = activeStatuses.filter((candidate) => wanted.includes(candidate));
  if (active.length === 0 && !wanted.includes("waiting")) return undefined;
  const clauses = filterClauses(dialect, filter, values);
  if (clauses === undefined) return undefined;
  clauses.push(`(lease_expires_at IS NULL OR lease_expires_at <= ${params.now()})`);
  const arms: string[] = [];
  if (active.length > 0) {
    const dead = active.filter((candidate) => candidate !== "running");
    const notDead = dead.length === 0 ? "" : ` AND NOT (status IN (${literals(dead)}) AND COALESCE(attempts, 0) >= ${params.maxAttempts()} AND lease_expires_at IS NULL)`;
    arms.push(`(status IN (${literals(active)})${notDead})`);
  }
  if (wanted.includes("waiting")) arms.push(`(status = 'waiting' AND wake_ms <= ${params.nowMs()})`);
  clauses.push(arms.length === 1 ? (arms[0] as string) : `(${arms.join(" OR ")})`);
  return clauses;
}

/**
 * What `wake_ms` holds for a snapshot as saved: the epoch milliseconds of its `wakeAt` while it is
 * waiting, else NULL. A delivery's mark (the least BIGINT) is cleared by the next save.
 */
export function wakeMsOf(snapshot: { readonly status: SnapshotStatus; readonly wakeAt?: string | undefined }): number | null {
  if (snapshot.status !== "waiting" || snapshot.wakeAt === undefined) return null;
  const ms = Date.parse(snapshot.wakeAt);
  return Number.isNaN(ms) ? null : ms;
}

/** What a delivery writes into `wake_ms` to mark a waiting row due: the earliest instant a Date holds, so no request's `now` is before it. */
export const markedDue = "-8640000000000000";
