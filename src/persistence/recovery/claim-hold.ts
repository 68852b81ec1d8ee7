import { linkedSignal, raceAbort } from "../../abort.js";
import type { HoldAhead } from "../held-here.js";
import { loadSnapshot } from "../provider-call.js";
import type { WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { answeredWithin, settlesWithin } from "./bounded-wait.js";
import type { ClaimedSnapshot } from "./claim-pages.js";
import { keysOf, type InstanceRef, type RecoveryOutcome } from "./report.js";

// The hold in this process that a claim made by page comes with (see `holdAhead`), as its run
// waits for it and checks it is still the claim's own.

/**
 * Resolves true once `hold` is taken: at once in the common case; when a run here held the
 * instance, the instant it lets go. False when `ms` passed first (a run here that does not let go:
 * one without a lease, hung), or one of `stops` (close, the caller's signal) aborted.
 */
export async function holdTaken(hold: HoldAhead, ms: number, stops: readonly AbortSignal[]): Promise<boolean> {
  if (hold.pending) return true;
  const stop = linkedSignal(stops);
  try {
    const taken = raceAbort(hold.taken, stop.signal, () => new Error("stopped")).catch(() => false);
    return (await settlesWithin(taken, ms)) && (await taken);
  } finally {
    stop.dispose();
  }
}

/**
 * True when another claim made in this process since holds `stored`, while `claim`'s hold is still
 * pending: a live lease that is not the claim's. An attempt that never started left the hold
 * unadopted, and another coordinator here claimed the record once the claim's lease ran out; that
 * claim waits for this hold, and runs once it is dropped. A record the claim's lease still covers
 * (a cancellation wrote it) or none covers (given back) is this instance's to run.
 */
export function claimedSince(claim: ClaimedSnapshot | undefined, stored: WorkflowExecutionSnapshot | undefined, now: number): boolean {
  if (claim === undefined || !claim.hold.pending || stored === undefined || stored.revision === claim.snapshot.revision) return false;
  const lease = stored.leaseExpiresAt;
  return lease !== undefined && lease !== claim.snapshot.leaseExpiresAt && Date.parse(lease) > now;
}

/** The stored record as it was before the claim `claimed` made: its attempts not yet counted. */
export function beforeClaim(claimed: WorkflowExecutionSnapshot): WorkflowExecutionSnapshot {
  return { ...claimed, attempts: Math.max(0, (claimed.attempts ?? 1) - 1) };
}

/** How long after its answer a claim made by page may wait (for a lane, for its workflow and foundry) and still start from the record it returned, unread. */
export const unreadClaimMs = 100;

/**
 * What to report instead of running a claim that waited longer than {@link unreadClaimMs}, when the
 * record moved since: a cancellation, or a forced delete, stored while it waited. Undefined when it
 * is still the claim's, and when the read fails or one of `stops` (close, the caller's signal)
 * aborts it: the run's own compare-and-set still guards the record, and closing stops the run.
 * Without this read such a claim would start its next operation after the cancellation was
 * answered, and only its first checkpoint would be refused. Within the lease.
 */
export async function movedSinceClaim(provider: WorkflowPersistenceProvider, ref: InstanceRef, claimed: WorkflowExecutionSnapshot, leaseTtlMs: number, stops: readonly AbortSignal[]): Promise<RecoveryOutcome | undefined> {
  const keys = keysOf(ref);
  const stop = linkedSignal(stops);
  const read = raceAbort(answeredWithin(loadSnapshot(provider, keys, stop.signal), leaseTtlMs, "tryLoad", keys), stop.signal, () => new Error("stopped"));
  const stored = await read.then((snapshot) => ({ snapshot }), () => undefined).finally(() => stop.dispose());
  if (stored === undefined) return undefined;
  return movedOutcome(ref, claimed, stored.snapshot);
}

function movedOutcome(ref: InstanceRef, claimed: WorkflowExecutionSnapshot, stored: WorkflowExecutionSnapshot | undefined): RecoveryOutcome | undefined {
  if (stored?.revision === claimed.revision) return undefined;
  if (stored === undefined) return { ...ref, status: "skipped", reason: "absent" };
  if (stored.status === "cancelled") return { ...ref, status: "cancelled" };
  return { ...ref, status: "skipped", reason: "claimed", detail: `revision ${stored.revision} was stored over this claim's ${claimed.revision} before its run started` };
}
