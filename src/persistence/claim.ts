import type { WorkflowExecutionSnapshot } from "./snapshot.js";

/**
 * True when another owner holds a live lease on the instance: it is running (or compensating) it
 * right now. A `failed` or `completed` record claims nothing, and an expired lease may be taken over.
 */
export function isClaimedByOther(snapshot: WorkflowExecutionSnapshot, owner: string, now = Date.now()): boolean {
  const { status, leaseExpiresAt } = snapshot;
  if (status !== "running" && status !== "compensating") return false;
  if (snapshot.owner === undefined || snapshot.owner === owner || leaseExpiresAt === undefined) return false;
  return Date.parse(leaseExpiresAt) > now;
}
