import type { ClaimColumns } from "../claim-columns.js";
import { anyInstance } from "../keys.js";
import { unfinishedStatuses, type ClaimRequest } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import type { SendQuery } from "./postgres-mailbox.js";
import type { PostgresStatements } from "./postgres-sql.js";
import { claimableClauses, type SqlDialect, type SqlQuery } from "./sql-query.js";

// claim() on Postgres: one statement leases the rows, and decoding them comes after it committed.
// A claim that then rejects (a row it cannot read, without onUnreadable) hands its caller nothing,
// so it gives back every row it took: the statement returns what each row's claim columns held,
// and a second statement puts them back where the row still holds this claim. A row it cannot
// read, reported through onUnreadable, is given back the same way, and the page filled without it.

/** A row a claim returns: its keys and data as stored, its new revision, and its claim columns as they were. */
export interface ClaimedRow extends ClaimColumns {
  readonly instance_id?: unknown;
  readonly workflow_id?: unknown;
  readonly data?: unknown;
  readonly was?: unknown;
}

// isClaimable in SQL, one subquery per kind of row. Running, failed and compensating rows are read
// in key order through the partial index of their keys: a plain index scan marks the entries of
// rows deleted since dead as it passes them, so the next claim skips them. Through the status index
// the planner chose a bitmap scan, which marks nothing: each claim read every deleted row's page
// again until a vacuum (0.3-0.8 ms a claim in the scale-out bench, against 0.1). Waiting rows come
// through the index of their wake_ms when the first kind leaves room. The lease is not indexed: every
// checkpoint renews it, and an indexed column would cost each of them a non-HOT update.
// A claim the server runs once its lease ($2) has ended by the server's clock claims nothing
// (claimArrivedLate): a stable comparison, which the planner checks once, before reading any row.
// The rows are read locked, so `was` (their claim columns as text, times in epoch microseconds, so
// that no session's DateStyle changes them) is what the update replaced.
export function claimStatement(dialect: SqlDialect, table: string, request: ClaimRequest, excluded: readonly PassedOver[] = []): SqlQuery | undefined {
  const { owner, leaseExpiresAt, now, maxAttempts, limit } = request;
  const values: unknown[] = [owner, leaseExpiresAt, now];
  const param = (value: unknown): string => dialect.param(values, value);
  // Only what the clauses use becomes a parameter: Postgres cannot type one no clause mentions.
  const params = { now: () => "$3", nowMs: () => param(Date.parse(now)), maxAttempts: () => param(maxAttempts) };
  const wanted = [request.filter?.status ?? unfinishedStatuses].flat();
  const kinds = [wanted.filter((status) => status !== "waiting"), wanted.filter((status) => status === "waiting")];
  const passedOver = excluded.length === 0 ? undefined : `NOT ((instance_id, workflow_id) IN (SELECT i, w FROM json_to_recordset(${param(JSON.stringify(excluded))}::json) AS x(i text, w text)))`;
  const selects = kinds.flatMap((statuses, kind) => {
    const clauses = statuses.length === 0 ? undefined : claimableClauses(dialect, { ...request, filter: { ...request.filter, status: statuses } }, values, params);
    if (clauses !== undefined && passedOver !== undefined) clauses.push(passedOver);
    return clauses === undefined ? [] : [{ where: [...clauses, "$2::timestamptz > statement_timestamp()"].join(" AND "), order: kind === 0 ? " ORDER BY instance_id, workflow_id" : "" }];
  });
  if (selects.length === 0) return undefined;
  const most = param(limit);
  // An infinite time (a lease an operator ended with '-infinity') has no epoch: it is kept as its text.
  const micros = (column: string): string => `CASE WHEN isfinite(${column}) THEN (extract(epoch FROM ${column}) * 1000000)::bigint::text ELSE ${column}::text END`;
  const was = `json_build_array(revision::text, owner, ${micros("lease_expires_at")}, ${micros("updated_at")}, attempts) AS was`;
  const ctes = selects.map(({ where, order }, index) => `k${index} AS (SELECT instance_id, workflow_id, ${was} FROM ${table} WHERE ${where}${order} LIMIT ${most} FOR UPDATE SKIP LOCKED)`);
  const text =
    `WITH ${ctes.join(", ")} ` +
    `UPDATE ${table} AS s SET revision = s.revision + 1, owner = $1, lease_expires_at = $2, updated_at = $3, attempts = COALESCE(s.attempts, 0) + 1 ` +
    `FROM (SELECT * FROM (${selects.map((_, index) => `SELECT * FROM k${index}`).join(" UNION ALL ")}) AS u LIMIT ${most}) AS c ` +
    "WHERE s.instance_id = c.instance_id AND s.workflow_id = c.workflow_id RETURNING s.instance_id, s.workflow_id, s.data, s.revision::float8 AS revision, c.was::text AS was";
  return { text, values };
}

// $1: a JSON array of [instance_id, workflow_id, claimed revision, [revision, owner, lease µs,
// updated µs, attempts] as they were]; $2: the claim's owner. A row saved, deleted or claimed again
// since holds another revision or owner, and is left as it is.
export function releaseStatement(table: string): string {
  const instant = (column: string): string =>
    `CASE WHEN r.was->>${column} IS NULL THEN NULL WHEN r.was->>${column} LIKE '%infinity' THEN (r.was->>${column})::timestamptz ELSE to_timestamp(0) + (r.was->>${column})::bigint * interval '1 microsecond' END`;
  return (
    `UPDATE ${table} AS s SET revision = (r.was->>0)::bigint, owner = r.was->>1, lease_expires_at = ${instant("2")}, updated_at = ${instant("3")}, ` +
    "attempts = (r.was->>4)::int FROM jsonb_to_recordset($1::jsonb) AS r(i text, w text, claimed bigint, was jsonb) " +
    "WHERE s.instance_id = r.i AND s.workflow_id = r.w AND s.revision = r.claimed AND s.owner = $2"
  );
}

/** A row a claim passes over: its keys as stored. */
export interface PassedOver {
  readonly i: unknown;
  readonly w: unknown;
}

/**
 * Claims with `sql.claim(request)` and reads each returned row with `read`. When reading throws,
 * every row the statement took is given back before the error is rethrown: a rejected claim takes
 * nothing. A row `read` reports as unreadable (it returns undefined: claimed rows all match) is
 * given back, and what it left of the page claimed again without it, so it stays as it was and
 * is reported once. Giving back is best effort: if it fails, the rows stay leased until their lease ends.
 */
export async function claimRows(
  send: SendQuery,
  sql: PostgresStatements,
  request: ClaimRequest,
  signal: AbortSignal | undefined,
  read: (row: ClaimedRow) => WorkflowExecutionSnapshot | undefined,
): Promise<WorkflowExecutionSnapshot[]> {
  const claimed: WorkflowExecutionSnapshot[] = [];
  const excluded: PassedOver[] = [];
  for (;;) {
    const query = sql.claim({ ...request, limit: request.limit - claimed.length }, excluded);
    if (query === undefined) return claimed;
    const rows = (await send("claim", anyInstance, signal, query.text, query.values)).rows as ClaimedRow[];
    const unreadable: ClaimedRow[] = [];
    try {
      for (const row of rows) {
        const snapshot = read(row);
        if (snapshot === undefined) unreadable.push(row);
        else claimed.push(snapshot);
      }
    } catch (error) {
      // Not the caller's signal: what was taken goes back even when the caller gave up.
      await giveBack(send, sql, request.owner, rows).catch(() => undefined);
      throw error;
    }
    if (unreadable.length === 0) return claimed;
    const givenBack = await giveBack(send, sql, request.owner, unreadable).then(() => true, () => false);
    if (!givenBack || claimed.length >= request.limit) return claimed;
    excluded.push(...unreadable.map((row) => ({ i: row.instance_id, w: row.workflow_id })));
  }
}

function giveBack(send: SendQuery, sql: PostgresStatements, owner: string, rows: readonly ClaimedRow[]): Promise<unknown> {
  const taken = rows.map((row) => ({ i: row.instance_id, w: row.workflow_id, claimed: row.revision, was: JSON.parse(String(row.was)) as unknown }));
  return send("claim", anyInstance, undefined, sql.release, [JSON.stringify(taken), owner]);
}
