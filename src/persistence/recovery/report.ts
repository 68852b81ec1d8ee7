import { describe } from "../../internal/validate.js";
import type { InstanceIdentity } from "../../types.js";
import type { SnapshotKeys } from "../errors.js";

/** Which stored instance an outcome is about: the two keys. Public as `InstanceIdentity` (workflowforge). */
export type InstanceRef = InstanceIdentity;

/** The resumed run completed. `attempts` counts this instance's claims, this one included. */
export interface ResumedInstance extends InstanceRef {
  readonly status: "resumed";
  readonly output: unknown;
  readonly attempts: number;
}

/**
 * The instance could not be completed. `deadLettered` says it is now stored with status `failed`
 * and will not be resumed again; otherwise a later `resume` may try again (for example after a
 * deployment that knows its workflow). A stored record `resumeAll` could not read is reported here
 * with its `SnapshotCorruptedError` and `attempts: 0`, and left as it is.
 */
export interface FailedInstance extends InstanceRef {
  readonly status: "failed";
  readonly error: Error;
  readonly attempts: number;
  readonly deadLettered: boolean;
}

/**
 * Not finished here, and nothing is wrong:
 * - `claimed`: another worker holds a live lease, or took the instance over meanwhile (this worker
 *   may have run operations before it noticed; the other one continues from its own checkpoints);
 * - `in-progress`: this coordinator is already resuming it;
 * - `completed` / `absent`: there is nothing left to resume;
 * - `dead-letter`: it used up its attempts earlier;
 * - `closed`: the coordinator was closing, so it was not started, or stopped before its next
 *   operation with its claim given back (no attempt counted) for another worker to take over.
 */
export interface SkippedInstance extends InstanceRef {
  readonly status: "skipped";
  readonly reason: "claimed" | "in-progress" | "completed" | "absent" | "dead-letter" | "closed";
  readonly detail?: string;
}

/**
 * The resumed run reached a durable wait and suspended again (`WorkflowSuspendedError`): not a
 * failure, no attempt counted. It is stored `waiting` until it is due.
 */
export interface SuspendedInstance extends InstanceRef {
  readonly status: "suspended";
  readonly wakeAt: Date | undefined;
  readonly waitingFor: string | undefined;
}

/** The instance was cancelled: it is stored `cancelled` (after its compensation, when one was asked for). */
export interface CancelledInstance extends InstanceRef {
  readonly status: "cancelled";
}

/** What happened to one instance: resumed (to its end), suspended at a wait, failed (after its attempts), cancelled, or skipped, with why. */
export type RecoveryOutcome = ResumedInstance | SuspendedInstance | FailedInstance | CancelledInstance | SkippedInstance;

/** What `resumeAll` did with every instance it found. */
export interface RecoveryReport {
  readonly resumed: readonly ResumedInstance[];
  readonly suspended: readonly SuspendedInstance[];
  readonly failed: readonly FailedInstance[];
  readonly cancelled: readonly CancelledInstance[];
  readonly skipped: readonly SkippedInstance[];
}

export function reportOf(outcomes: readonly RecoveryOutcome[]): RecoveryReport {
  return {
    resumed: outcomes.filter((outcome): outcome is ResumedInstance => outcome.status === "resumed"),
    suspended: outcomes.filter((outcome): outcome is SuspendedInstance => outcome.status === "suspended"),
    failed: outcomes.filter((outcome): outcome is FailedInstance => outcome.status === "failed"),
    cancelled: outcomes.filter((outcome): outcome is CancelledInstance => outcome.status === "cancelled"),
    skipped: outcomes.filter((outcome): outcome is SkippedInstance => outcome.status === "skipped"),
  };
}

/** The outcome of an instance that could not be completed. */
export function failed(ref: InstanceRef, error: Error, attempts: number, deadLettered: boolean): FailedInstance {
  return { ...ref, status: "failed", error, attempts, deadLettered };
}

/** The snapshot keys of `ref`. */
export function keysOf(ref: InstanceRef): SnapshotKeys {
  return { foundryExecutionId: ref.instanceId, workflowId: ref.workflowKey };
}

/** `value` as an Error, for a report: what was thrown, or an Error naming a non-Error throw. */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(`non-Error thrown: ${describe(value)}`, { cause: value });
}
