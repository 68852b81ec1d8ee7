import type { WorkflowExecutionSnapshot } from "./snapshot.js";
import { isoTime } from "./snapshot-state.js";

/**
 * The columns a SQL provider's `claim()` writes without rewriting the record's data, as read back:
 * the row's revision, and the claim's owner, lease end and time (epoch milliseconds).
 */
export interface ClaimColumns {
  readonly revision?: unknown;
  readonly owner?: unknown;
  readonly lease_ms?: unknown;
  readonly updated_ms?: unknown;
}

/**
 * The record a row holds: its decoded data, or, when the row's revision is ahead of the data's
 * (claimed since the data was last written), the data with the claim's revision, owner, lease and
 * time over it, and one attempt counted per claim. A save rewrites data and columns together.
 */
export function withClaimColumns(snapshot: WorkflowExecutionSnapshot, row: ClaimColumns): WorkflowExecutionSnapshot {
  const revision = Number(row.revision);
  if (!(revision > snapshot.revision)) return snapshot;
  const claimed: Record<string, unknown> = { ...snapshot, revision, attempts: (snapshot.attempts ?? 0) + (revision - snapshot.revision) };
  if (typeof row.owner === "string") claimed.owner = row.owner;
  // isoTime: a page of claims shares its lease and time, which it formats once.
  const instant = (ms: unknown): string | undefined => (typeof ms === "number" && Number.isFinite(ms) ? isoTime(ms) : undefined);
  const lease = instant(row.lease_ms);
  if (lease !== undefined) claimed.leaseExpiresAt = lease;
  const updated = instant(row.updated_ms);
  if (updated !== undefined) claimed.updatedAt = updated;
  return claimed as unknown as WorkflowExecutionSnapshot;
}
