import { linkedSignal, raceAbort } from "../../abort.js";
import type { HoldAhead } from "../held-here.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { settlesWithin } from "./bounded-wait.js";
import type { ClaimedSnapshot } from "./claim-pages.js";

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
 * True when `stored` is no longer the record `claim` made, while its hold is still pending: a run
 * here held the instance when it was claimed and handed the hold over after writing, or an attempt
 * that never started left the hold unadopted and another claim here ran meanwhile. The claim is void.
 */
export function movedSinceClaim(claim: ClaimedSnapshot | undefined, stored: WorkflowExecutionSnapshot | undefined): boolean {
  return claim !== undefined && claim.hold.pending && stored !== undefined && stored.revision !== claim.snapshot.revision;
}
