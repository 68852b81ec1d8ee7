import { isWorkflowForgeError } from "../errors.js";
import type { SnapshotConflictError } from "./errors.js";

export interface LeaseKeeperOptions {
  readonly ttlMs: number;
  /**
   * Renews the claim outside a checkpoint. Rejects with SnapshotConflictError when it was lost.
   * `held()` turns false once the keeper stopped: a renewal must not save after that.
   */
  readonly renew: (held: () => boolean) => Promise<void>;
  /** The error for a lease that ran out because no renewal reached the store in time. */
  readonly expired: () => SnapshotConflictError;
  /** Reports a renewal that failed for another reason; the next checkpoint or renewal tries again. */
  readonly warn: (error: unknown) => void;
}

/**
 * Keeps a run's claim alive while an operation takes longer than a checkpoint interval, and stops
 * the run once the claim is lost.
 *
 * Every checkpoint already renews the lease in the same write, so the timer only acts when no save
 * happened for a third of the TTL. Saves and renewals never overlap: a checkpoint waits for a
 * renewal in flight, and no renewal starts while a checkpoint is being saved, so revisions stay in
 * order. The run is stopped (its operation's signal aborted, every further save refused) when a
 * renewal finds another owner, or when the lease ran out because the store could not be reached:
 * from then on another worker may take the instance over.
 */
export class LeaseKeeper {
  readonly #options: LeaseKeeperOptions;
  readonly #controller = new AbortController();
  readonly #timer: ReturnType<typeof setInterval>;
  // Local monotonic time of the last save that reached the store: the lease runs a TTL from there.
  #lastSavedAt = performance.now();
  #saving = false;
  #renewing: Promise<void> | undefined;
  #stopped = false;
  #lost: SnapshotConflictError | undefined;

  constructor(options: LeaseKeeperOptions) {
    this.#options = options;
    this.#timer = setInterval(() => this.#tick(), Math.max(1, options.ttlMs / 4));
    // The timer must not keep a process alive on its own; the operation it guards does that.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** Set once the run lost its claim. */
  get lost(): SnapshotConflictError | undefined {
    return this.#lost;
  }

  /** The signal an operation runs with: the caller's, also aborted when the claim is lost. */
  signalFor(signal: AbortSignal): AbortSignal {
    return AbortSignal.any([signal, this.#controller.signal]);
  }

  /** Waits for a renewal in flight, then refuses to save for a run that lost its claim. */
  async beforeSave(): Promise<void> {
    if (this.#renewing !== undefined) await this.#renewing;
    if (this.#lost !== undefined) throw this.#lost;
    this.#saving = true;
  }

  afterSave(saved: boolean): void {
    this.#saving = false;
    if (saved) this.#lastSavedAt = performance.now();
  }

  lose(error: SnapshotConflictError): void {
    this.#lost ??= error;
    void this.stop();
    this.#controller.abort(error);
  }

  /**
   * No renewal starts after the run finished or deleted its snapshot (it would write the record
   * back). Resolves once a renewal already in flight has landed.
   */
  stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    return this.#renewing ?? Promise.resolve();
  }

  #tick(): void {
    if (this.#stopped || this.#saving || this.#renewing !== undefined) return;
    const idleMs = performance.now() - this.#lastSavedAt;
    if (idleMs >= this.#options.ttlMs) {
      this.lose(this.#options.expired());
      return;
    }
    if (idleMs < this.#options.ttlMs / 3) return;
    this.#renewing = this.#options
      .renew(() => !this.#stopped)
      .then(
        () => {
          this.#lastSavedAt = performance.now();
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
