import type { Logger } from "../types.js";
import type { ErrorLocation } from "../errors.js";
import { SnapshotConflictError, describeKeys, type SnapshotKeys } from "./errors.js";
import { LeaseKeeper } from "./lease.js";
import type { WorkflowExecutionSnapshot } from "./snapshot.js";
import { givenBack, handedBack } from "./snapshot-state.js";
import type { WriteMode } from "./snapshot-store.js";
import { logSafely } from "../logger.js";

/** What the claim needs from the session that owns it. */
export interface ClaimWrites {
  /** Saves the session's current state as the next revision. */
  readonly save: () => Promise<void>;
  /**
   * Saves the last stored checkpoint, changed, as the next revision (fenced: refused when the stored
   * revision moved); `change` returning undefined writes nothing. Resolves whether it wrote.
   */
  readonly rewrite: (change: (stored: WorkflowExecutionSnapshot) => WorkflowExecutionSnapshot | undefined, mode: WriteMode) => Promise<boolean>;
  readonly location: () => ErrorLocation;
  readonly logger: Logger;
  /**
   * Aborted when the coordinator's close deadline passed. Renewals stop then: close() stops waiting
   * soon after the lease ran out (lostClaimSettleMs), and an operation that ignored its abort must
   * not keep the instance claimed past that, with renewals of a worker that is gone.
   */
  readonly deadline?: AbortSignal | undefined;
}

// Conflicts no store reply made: the lease ran out while its renewal went unanswered.
const ranOutClaims = new WeakSet<object>();
const ranOut = (error: SnapshotConflictError): SnapshotConflictError => (ranOutClaims.add(error), error);

/** Whether `error` is a claim lost to its lease running out unanswered (the store may have stopped). */
export const leaseRanOut = (error: unknown): boolean => typeof error === "object" && error !== null && ranOutClaims.has(error);

/**
 * A leased run's claim in the store: a compare-and-set save with a lease, renewed by every
 * checkpoint and by the lease keeper in between (the hold inside this process is `holdForRun`'s).
 * The lease is watched from before the first load, so a store that hangs at any step loses the
 * claim after one TTL instead of holding the run forever.
 */
export class RunClaim {
  readonly #writes: ClaimWrites;
  readonly #lease: LeaseKeeper;
  readonly #keys: SnapshotKeys;
  readonly #stopAtDeadline = (): void => void this.#lease.stopRenewing();

  private constructor(keys: SnapshotKeys, ttlMs: number, writes: ClaimWrites) {
    this.#writes = writes;
    this.#keys = keys;
    this.#lease = new LeaseKeeper({
      ttlMs,
      renew: (held) => this.#renew(held),
      expired: () => ranOut(new SnapshotConflictError({ keys, location: writes.location(), detail: `the lease ran out after ${ttlMs} ms with no save of the run acknowledged: the store failed, or did not answer in time, a call of the run (a load, a save or a delete)` })),
      warn: (error) => logSafely(writes.logger, "warn", `could not renew the lease on ${describeKeys(keys)}`, error),
    });
    if (writes.deadline?.aborted === true) this.#stopAtDeadline();
    else writes.deadline?.addEventListener("abort", this.#stopAtDeadline, { once: true });
  }

  /** Starts watching the lease; {@link close} when the run settles. */
  static start(keys: SnapshotKeys, ttlMs: number, writes: ClaimWrites): RunClaim {
    return new RunClaim(keys, ttlMs, writes);
  }

  /** The run settled: resolves once a renewal in flight has landed, or the lease ran out while it hung. */
  close(): Promise<void> {
    this.#writes.deadline?.removeEventListener("abort", this.#stopAtDeadline);
    return this.#lease.close();
  }

  get lost(): SnapshotConflictError | undefined {
    return this.#lease.lost;
  }

  /**
   * The claim is an ordinary compare-and-set save of the adopted state, so of two processes (or
   * runs) that loaded the same revision only one gets to run; renewals start once it landed.
   */
  async claim(): Promise<void> {
    await this.#writes.save();
    this.#lease.startRenewing();
  }

  /**
   * The store holds the claim already (the coordinator claimed the instance, sending the claim at
   * `sentAt`, a `performance.now()` instant): nothing is written, the lease counts from `sentAt`.
   */
  adopt(sentAt: number): void {
    this.#lease.startRenewing(sentAt);
    this.#lease.assertLive();
  }

  /**
   * Gives the claim back without counting an attempt, so another worker can take the instance over
   * at once: the last checkpoint is stored again with no lease, and without the attempt this claim
   * counted. Fenced like every save; a failure to release (logged) only means the others wait for
   * the lease to expire. Resolves whether it released. `annotations`, when given, replace the
   * stored ones: an operation stopped midway may have done part of its work, and the next run must
   * know that a run started it (its trace, say: otherwise it would count as no run's).
   */
  async release(annotations?: Readonly<Record<string, string>>): Promise<boolean> {
    if (this.#lease.lost !== undefined) return false;
    await this.#lease.stopRenewing();
    try {
      return await this.#writes.rewrite((stored) => givenBack(annotations === undefined ? stored : { ...stored, annotations }), "release");
    } catch (error) {
      logSafely(this.#writes.logger, "warn", `could not release the claim on ${describeKeys(this.#keys)}`, error);
      return false;
    }
  }

  /** The run suspends: its next save gives the claim back, so nothing renews it, and nothing can lose it once that landed. */
  suspend(): Promise<void> {
    return this.#lease.givingBack();
  }

  /** The suspended run took the instance back (its save landed or is being sent): renewals go on. */
  resumeRenewing(): void {
    this.#lease.resumeRenewing();
  }

  /** Aborted when the claim is lost. */
  get signal(): AbortSignal {
    return this.#lease.signal;
  }

  signalFor(signal: AbortSignal): AbortSignal {
    return this.#lease.signalFor(signal);
  }

  guard<T>(work: Promise<T>): Promise<T> {
    return this.#lease.guard(work);
  }

  assertLive(): void {
    this.#lease.assertLive();
  }

  beforeSave(): Promise<void> | undefined {
    return this.#lease.beforeSave();
  }

  afterSave(saved: boolean): void {
    this.#lease.afterSave(saved);
  }

  stopRenewing(): Promise<void> {
    return this.#lease.stopRenewing();
  }

  // Re-saves what the last checkpoint stored with a new lease. A `waiting` record (a coordinator's
  // claim by page, adopted without a write) is stored `running`: saved as it was, it would lose the
  // delivery's due mark, and with its run gone nobody would ever claim it for that event again.
  #renew(held: () => boolean): Promise<boolean> {
    return this.#writes.rewrite((stored) => (held() ? (handedBack({ ...stored }) as unknown as WorkflowExecutionSnapshot) : undefined), "renewal");
  }
}
