import { abortWith } from "../abort.js";
import { isWorkflowForgeError } from "../errors.js";
import type { SnapshotConflictError } from "./errors.js";
import { joinSignals } from "./operation-signals.js";

export interface LeaseKeeperOptions {
  readonly ttlMs: number;
  /**
   * Renews the claim outside a checkpoint, resolving whether it saved. Rejects with
   * SnapshotConflictError when it was lost. `held()` turns false once renewals stopped: a renewal
   * must not save after that.
   */
  readonly renew: (held: () => boolean) => Promise<boolean>;
  /** The error for a lease that ran out because no save reached the store in time. */
  readonly expired: () => SnapshotConflictError;
  /** Reports a renewal that failed for another reason; the next checkpoint or renewal tries again. */
  readonly warn: (error: unknown) => void;
}

/** How often a lease of `ttlMs` is checked: a claim is found lost up to this long after its lease ran out. */
export const leaseCheckMs = (ttlMs: number): number => Math.max(1, ttlMs / 4);

/**
 * Keeps a run's claim alive while an operation takes longer than a checkpoint interval, and stops
 * the run once the claim is lost.
 *
 * Every checkpoint already renews the lease in the same write, so the timer only renews when no
 * save happened for a third of the TTL. Saves and renewals never overlap: a checkpoint waits for a
 * renewal in flight, and no renewal starts while a checkpoint is being saved, so revisions stay in
 * order.
 *
 * The lease counts from the moment the last successful save was sent (the stored expiry is computed
 * before sending), on the monotonic clock. Once a whole TTL has passed without a save landing, the
 * claim is lost whatever is in flight: a store that hangs instead of failing cannot keep a run going
 * while another worker takes the instance over. Losing aborts the operation's signal and rejects
 * every provider call still pending through {@link guard}, so the run settles within about one TTL.
 */
export class LeaseKeeper {
  readonly #options: LeaseKeeperOptions;
  readonly #controller = new AbortController();
  // Links signalFor made to callers' signals, undone when the run settles.
  readonly #unlink: (() => void)[] = [];
  readonly #timer: ReturnType<typeof setInterval>;
  #lastSavedAt = performance.now();
  #sendingSince: number | undefined;
  #renewing: Promise<void> | undefined;
  // Renewals start once the claim landed: before that there is nothing of ours to renew.
  #renewalsStarted = false;
  #renewalsStopped = false;
  // A suspension's save gives the claim back: once it landed there is no lease to lose until the
  // run takes its instance back.
  #givingBack = false;
  #givenBack = false;
  #lost: SnapshotConflictError | undefined;
  // Guarded store calls in flight.
  #pending = 0;
  // Guarded calls' rejections, for lose() to settle them at once.
  readonly #rejecters = new Set<(error: unknown) => void>();

  constructor(options: LeaseKeeperOptions) {
    this.#options = options;
    this.#timer = setInterval(() => this.#tick(), leaseCheckMs(options.ttlMs));
    // The timer must not keep a process alive on its own; the operation it guards does that.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** Set once the run lost its claim. */
  get lost(): SnapshotConflictError | undefined {
    return this.#lost;
  }

  /** Aborted when the claim is lost. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The signal a store call runs with: the caller's, also aborted when the claim is lost, until {@link close}. */
  signalFor(signal: AbortSignal): AbortSignal {
    const joined = joinSignals(signal, this.#controller.signal);
    this.#unlink.push(joined.dispose);
    return joined.signal;
  }

  /**
   * Settles with `work`, or rejects with the lost claim as soon as it is lost, even if `work` hangs.
   * While a guarded call is pending the timer keeps the process alive: a store call that never
   * answers may hold nothing else open, and the run must still settle.
   */
  guard<T>(work: Promise<T>): Promise<T> {
    if (this.#lost !== undefined) {
      // The call already started: its own rejection must not go unhandled.
      work.catch(() => undefined);
      return Promise.reject(this.#lost);
    }
    if (this.#pending++ === 0) (this.#timer as { ref?: () => void }).ref?.();
    // Not async, and rejected by lose() directly: one promise per store call, no abort listener.
    return new Promise<T>((resolve, reject) => {
      let pending = true;
      const settle = (): boolean => {
        if (!pending) return false;
        pending = false;
        this.#rejecters.delete(fail);
        if (--this.#pending === 0) (this.#timer as { unref?: () => void }).unref?.();
        return true;
      };
      const fail = (reason: unknown): void => {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- forwards the work's own rejection unchanged
        if (settle()) reject(reason);
      };
      this.#rejecters.add(fail);
      work.then((value) => {
        if (settle()) resolve(value);
      }, fail);
    });
  }

  /**
   * Throws the lost claim when a whole TTL passed since the last save was sent: the process may have
   * been paused (SIGSTOP, a long GC) while another worker took the instance over. Checked before an
   * operation starts, since a paused process's timers do not fire on time.
   */
  assertLive(): void {
    this.#expireIfDue();
    if (this.#lost !== undefined) throw this.#lost;
  }

  /**
   * Waits for a renewal in flight, then refuses to save for a run that lost its claim (throws).
   * Returns a promise only when there was a renewal to wait for: a checkpoint awaits nothing else.
   */
  beforeSave(): Promise<void> | undefined {
    if (this.#renewing !== undefined) return this.#renewing.then(() => this.#startSending());
    this.#startSending();
    return undefined;
  }

  #startSending(): void {
    this.assertLive();
    this.#sendingSince = performance.now();
  }

  afterSave(saved: boolean): void {
    if (saved && this.#sendingSince !== undefined) this.#lastSavedAt = this.#sendingSince;
    this.#sendingSince = undefined;
    this.#givenBack ||= saved && this.#givingBack;
    this.#givingBack = false;
  }

  /** The next save stores the record with no lease (a suspension): no renewal, and no expiry once it landed. */
  givingBack(): Promise<void> {
    this.#givingBack = true;
    return this.stopRenewing();
  }

  lose(error: SnapshotConflictError): void {
    this.#lost ??= error;
    void this.stopRenewing();
    for (const reject of this.#rejecters) reject(this.#lost);
    this.#rejecters.clear();
    abortWith(this.#controller, error);
  }

  /**
   * The claim landed: from now on the keeper renews it when no checkpoint did for a third of the TTL.
   * `sentAt` (`performance.now()`) is when a claim made elsewhere was sent: the lease counts from there.
   */
  startRenewing(sentAt?: number): void {
    if (sentAt !== undefined) this.#lastSavedAt = Math.min(this.#lastSavedAt, sentAt);
    this.#renewalsStarted = true;
  }

  /**
   * No renewal starts after the run finished or decided to delete its snapshot (it would write the
   * record back); the expiry watch goes on until {@link close}. Resolves once a renewal already in
   * flight has landed.
   */
  stopRenewing(): Promise<void> {
    this.#renewalsStopped = true;
    return this.#renewing ?? Promise.resolve();
  }

  /** Undoes {@link givingBack}: a suspended run takes its instance back, by a save that counts the lease anew. */
  resumeRenewing(): void {
    if (this.#givenBack) this.#lastSavedAt = performance.now();
    this.#givenBack = false;
    this.#givingBack = false;
    this.#renewalsStopped = false;
  }

  /**
   * The run settled: resolves once a renewal in flight has landed, then stops watching. The expiry
   * watch goes on meanwhile, so a renewal that hangs is given up once the lease ran out (the claim
   * is then lost), and the run still settles within about one TTL.
   */
  async close(): Promise<void> {
    await this.stopRenewing();
    clearInterval(this.#timer);
    for (const unlink of this.#unlink.splice(0)) unlink();
  }

  #expireIfDue(): void {
    if (this.#lost === undefined && !this.#givenBack && performance.now() - this.#lastSavedAt >= this.#options.ttlMs) this.lose(this.#options.expired());
  }

  #tick(): void {
    this.#expireIfDue();
    if (this.#lost !== undefined || !this.#renewalsStarted || this.#renewalsStopped || this.#sendingSince !== undefined || this.#renewing !== undefined) return;
    if (performance.now() - this.#lastSavedAt < this.#options.ttlMs / 3) return;
    const sentAt = performance.now();
    this.#renewing = this.guard(this.#options.renew(() => !this.#renewalsStopped))
      .then(
        (saved) => {
          if (saved) this.#lastSavedAt = sentAt;
        },
        (error: unknown) => {
          if (isConflict(error)) this.lose(error);
          else this.#options.warn(error);
        },
      )
      .finally(() => {
        this.#renewing = undefined;
      });
  }
}

function isConflict(error: unknown): error is SnapshotConflictError {
  return isWorkflowForgeError(error) && error.code === "SNAPSHOT_CONFLICT";
}
