import { settlesWithin } from "./bounded-wait.js";

// How long, in leases, an unanswered claim holds off the next: a claim may also never answer (a
// connection that died silently), and a coordinator must not stop claiming for good because of it.
const holdLeases = 5;

/**
 * The claim of a coordinator that a pass stopped waiting for after a lease. A store that stalled
 * answers the calls queued meanwhile in order once it comes back, and a claim's lease counts from
 * when it was sent: a second claim sent in the meantime would land after the first, find the first
 * one's lease run out and count another attempt on the same record, each claim giving back only
 * its own (six passes during a 6 s freeze left five attempts, and a dead letter that never ran). So
 * a coordinator sends no claim while one of its claims is unanswered, for up to five leases, and
 * the late page is given back before the next claim.
 */
export class UnansweredClaim {
  #late: { readonly answered: Promise<unknown>; readonly sentAt: number } | undefined;

  /** True once no claim of this coordinator holds off the next (at once when none does), false when one still does after a lease. */
  async answeredWithin(leaseTtlMs: number): Promise<boolean> {
    const late = this.#late;
    if (late === undefined || performance.now() - late.sentAt >= holdLeases * leaseTtlMs) return true;
    return settlesWithin(late.answered, leaseTtlMs);
  }

  /** Keeps `answered` (what lands the late page and gives it back), for the claim sent at `sentAt` (`performance.now()`), until it settles. */
  track(answered: Promise<unknown>, sentAt: number): void {
    const late = { answered, sentAt };
    this.#late = late;
    void answered.finally(() => {
      if (this.#late === late) this.#late = undefined;
    });
  }
}
