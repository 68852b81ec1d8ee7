import type { SnapshotKeys } from "./errors.js";
import { pairKey } from "./keys.js";
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

/** Who holds the claim and until when, for the messages that report one. */
export function describeClaim(snapshot: WorkflowExecutionSnapshot): string {
  return `owner "${snapshot.owner ?? ""}" holds a live lease until ${snapshot.leaseExpiresAt ?? ""}`;
}

// Instances a leased run of this process is running, per provider. A lease tells other processes
// apart by owner; runs inside one process share the owner, so they are told apart here.
const runningHere = new WeakMap<object, Set<string>>();

/**
 * Marks the instance as run by this process on `provider`. Returns the release function, or
 * `undefined` when another run of this process holds it already.
 */
export function holdInstance(provider: object, keys: SnapshotKeys): (() => void) | undefined {
  let held = runningHere.get(provider);
  if (held === undefined) runningHere.set(provider, (held = new Set()));
  const key = pairKey(keys);
  if (held.has(key)) return undefined;
  held.add(key);
  return () => {
    held.delete(key);
  };
}
