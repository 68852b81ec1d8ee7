import type { Workflow } from "../../workflow.js";
import type { SnapshotFilter } from "../provider.js";
import type { CancelOptions, CancelOutcome } from "./cancel.js";
import type { EnqueueOptions, PropertiesOf } from "./enqueue.js";
import type { InstanceRef, RecoveryOutcome, RecoveryReport } from "./report.js";
import type { SignalOptions, SignalResult } from "./signal.js";

/** Options of one `resume`, `resumeAll` or `enqueue` call. */
export interface RecoveryRunOptions {
  /** Stops waiting between attempts, and the run in progress (it is left to resume later). */
  readonly signal?: AbortSignal | undefined;
}

/** Options of `coordinator.start()`. */
export interface StartOptions {
  /** Time between passes when nothing wakes the coordinator sooner. @default 1_000 */
  readonly pollIntervalMs?: number | undefined;
  /** Only instances this filter matches, as for `resumeAll`. */
  readonly filter?: SnapshotFilter | undefined;
  /** Told of a pass (or the store's subscription) that failed; the next pass goes on. @default ignored */
  readonly onError?: ((error: unknown) => void) | undefined;
}

/** Options of `coordinator.close()`. */
export interface CloseOptions {
  /**
   * How long running operations may take to finish before they are aborted. Each run stops before
   * its next operation either way. @default 10_000
   */
  readonly timeoutMs?: number | undefined;
}

/** Resumes what other processes left unfinished; one per worker process. See docs/many-workers.md. */
export interface RecoveryCoordinator {
  /** The claim's owner this coordinator writes. */
  readonly owner: string;
  /**
   * Resumes one stored instance through the smith, retrying as configured. Never rejects for a
   * failed run: the outcome carries the error. Rejects only for invalid arguments.
   */
  resume(instanceId: string, workflowKey: string, options?: RecoveryRunOptions): Promise<RecoveryOutcome>;
  /**
   * Resumes every stored instance that `filter` matches and is not finished (status `running`,
   * `failed` or `compensating` unless the filter names statuses), `concurrency` at a time.
   * Instances another worker holds a live lease on are skipped; expired ones are taken over.
   */
  resumeAll(filter?: SnapshotFilter, options?: RecoveryRunOptions): Promise<RecoveryReport>;
  /**
   * Stores a new instance of `workflow` that has not started, for any worker's `resumeAll` to run.
   * Rejects with `SnapshotConflictError` when the instance exists and has not completed.
   */
  enqueue<W extends Workflow<any>>(workflow: W, options: EnqueueOptions<PropertiesOf<W>>, runOptions?: RecoveryRunOptions): Promise<InstanceRef>;
  /**
   * Sends an event to an instance, durably and once per `eventId` (see `signalInstance`); a
   * coordinator started in this process looks for due work at once.
   */
  signal(instanceId: string, workflowKey: string, event: string, payload?: unknown, options?: SignalOptions): Promise<SignalResult>;
  /** Cancels an instance, waiting, running or compensating (see `cancelInstance`). */
  cancel(instanceId: string, workflowKey: string, options?: CancelOptions): Promise<CancelOutcome>;
  /**
   * Keeps running what is due until `close()`: a `resumeAll` pass now, then whenever the store
   * pushes a delivery (`capabilities.push`), an event is sent from this process, or
   * `pollIntervalMs` passed since the last pass.
   */
  start(options?: StartOptions): void;
  /**
   * Graceful shutdown: claims nothing more, lets the operations running now finish (aborting them
   * after `timeoutMs`), and gives every claim it holds back to the store, fenced like any save and
   * without counting an attempt, so another worker takes those instances over at once instead of
   * waiting for their leases to expire. Resolves when every run has stopped. Runs stopped this way
   * are reported as skipped with reason `closed`; `resume` and `resumeAll` after `close` run nothing.
   * The push subscription is closed alongside, within `timeoutMs` (one that never answers is closed
   * when it does).
   */
  close(options?: CloseOptions): Promise<void>;
}
