import { raceAbort } from "../../abort.js";
import { pairKey } from "../keys.js";
import { settlesWithin } from "./bounded-wait.js";
import { beforeClaim } from "./claim-hold.js";
import type { ClaimedSnapshot } from "./claim-pages.js";

// How long, in leases, an unanswered claim holds off the next: a claim may also never answer (a
// connection that died silently), and a coordinator must not stop claiming for good because of it.
const holdLeases = 5;

/**
 * The claims of a coordinator that a pass stopped waiting for after a lease. A store that stalled
 * answers the calls queued meanwhile in order once it comes back, and a claim's lease counts from
 * when it was sent: a second claim sent in the meantime lands after the first, finds the first
 * one's lease run out and counts another attempt on the same record (six passes during a 6 s
 * freeze left five attempts, and a dead letter that never ran). So a coordinator sends no claim
 * while one of its claims is unanswered, for up to five leases, and the late page is given back
 * before the next claim. Past that, the late pages of claims the store ran back to back are given
 * back with the attempts from before the first of them (see `recount`).
 */
export class UnansweredClaim {
  readonly #closing: AbortSignal;
  #late: { readonly answered: Promise<unknown>; readonly sentAt: number } | undefined;
  // Per instance: the revision the last late page stored, and the attempts before the run of them.
  readonly #chains = new Map<string, { readonly revision: number; readonly attempts: number }>();

  /** `closing`: the coordinator's; its abort ends a wait for an unanswered claim. */
  constructor(closing: AbortSignal) {
    this.#closing = closing;
  }

  /**
   * Whether a claim may be sent now: `"claim"` once no claim of this coordinator is unanswered, or
   * one has been for five leases; `"held"` when one still is after another lease; `"closing"` when
   * the coordinator began to close meanwhile.
   */
  async turn(leaseTtlMs: number): Promise<"claim" | "held" | "closing"> {
    const late = this.#late;
    if (late !== undefined && performance.now() - late.sentAt < holdLeases * leaseTtlMs) {
      // The coordinator's closing ends the wait too; which of the two ended it is decided below.
      const answeredOrClosing = raceAbort(late.answered, this.#closing, () => new Error("closing")).catch(() => undefined);
      if (!(await settlesWithin(answeredOrClosing, leaseTtlMs)) && !this.#closing.aborted) return "held";
    }
    return this.#closing.aborted ? "closing" : "claim";
  }

  /** Keeps `answered` (what lands the late page and gives it back), for the claim sent at `sentAt` (`performance.now()`), until it settles. */
  track(answered: Promise<unknown>, sentAt: number): void {
    const late = { answered, sentAt };
    this.#late = late;
    void answered.finally(() => {
      if (this.#late !== late) return;
      this.#late = undefined;
      this.#chains.clear();
    });
  }

  /**
   * A late page's record as one claim counts it: with the attempts the record had before a run of
   * this coordinator's late claims that followed each other in the store (each revision the one
   * before plus one), plus one, for its give-back to restore. A page answered in time is not
   * recounted: a run adopts the stored record, whose attempts only the store can lower, and its
   * claim's revision breaks the run of late ones for any later page.
   */
  recount(claimed: ClaimedSnapshot): ClaimedSnapshot {
    const { snapshot } = claimed;
    const key = pairKey(snapshot);
    const chain = this.#chains.get(key);
    const before = chain !== undefined && chain.revision === snapshot.revision - 1 ? chain.attempts : (beforeClaim(snapshot).attempts ?? 0);
    this.#chains.set(key, { revision: snapshot.revision, attempts: before });
    return snapshot.attempts === before + 1 ? claimed : { ...claimed, snapshot: { ...snapshot, attempts: before + 1 } };
  }
}
