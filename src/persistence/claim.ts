import type { WorkflowExecutionSnapshot } from "./snapshot.js";

/**
 * True when another owner holds a live lease on the instance: it is running, compensating, or has
 * just recorded a failure it may still compensate or retry. A `completed` record claims nothing,
 * and an expired (or released) lease may be taken over. The single definition of "claimed": the
 * recovery coordinator, a leased run and the CLI all ask this. `now` is real time: leases are
 * written on it whatever clock a foundry or coordinator was given.
 */
export function isClaimedByOther(snapshot: WorkflowExecutionSnapshot, owner: string | undefined, now = Date.now()): boolean {
  const { status, leaseExpiresAt } = snapshot;
  if (status === "completed") return false;
  if (snapshot.owner === undefined || snapshot.owner === owner || leaseExpiresAt === undefined) return false;
  return Date.parse(leaseExpiresAt) > now;
}

/** Who holds the claim and until when, for the messages that report one. */
export function describeClaim(snapshot: WorkflowExecutionSnapshot): string {
  return `owner "${snapshot.owner ?? ""}" holds a live lease until ${snapshot.leaseExpiresAt ?? ""}`;
}
