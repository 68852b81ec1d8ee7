import { abortError } from "../../abort.js";
import { isWorkflowForgeError } from "../../errors.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { storedError } from "../stored-error.js";
import { savedWithin } from "./bounded-wait.js";
import type { ResolvedCoordinatorOptions } from "./coordinator-options.js";
import { RetriesExhaustedError } from "./errors.js";
import { failed, keysOf, toError, type FailedInstance, type InstanceRef, type SkippedInstance } from "./report.js";

/**
 * True for the record of an instance that used up its attempts: `failed`, or `compensating` when
 * it died while being undone, with `attempts` at the limit. It is not resumed again.
 */
export function isDeadLetter(snapshot: WorkflowExecutionSnapshot, maxAttempts: number): boolean {
  return (snapshot.status === "failed" || snapshot.status === "compensating") && (snapshot.attempts ?? 0) >= maxAttempts;
}

/**
 * The record of an instance that used up its attempts: the last error, the lease released, progress
 * and properties untouched so it can be inspected (and, after a fix, deleted or resumed by a
 * coordinator allowing more attempts). Status `failed`, except that an instance that was being
 * compensated stays `compensating`: its progress counts restores, and a later resume must finish
 * undoing it rather than run it forward.
 */
export function deadLetterSnapshot(snapshot: WorkflowExecutionSnapshot, error: Error, owner: string): WorkflowExecutionSnapshot {
  const compensating = snapshot.status === "compensating";
  const operationIndex = compensating ? (snapshot.error?.operationIndex ?? snapshot.nextOperationIndex) : snapshot.nextOperationIndex;
  const record: Record<string, unknown> = {
    ...snapshot,
    status: compensating ? "compensating" : "failed",
    error: compensating && snapshot.error !== undefined ? snapshot.error : storedError(error, operationIndex, snapshot.error?.operationName ?? ""),
    owner,
    revision: snapshot.revision + 1,
    updatedAt: new Date().toISOString(),
  };
  delete record.leaseExpiresAt;
  return record as unknown as WorkflowExecutionSnapshot;
}

/**
 * Stores `snapshot` as a dead letter ({@link deadLetterSnapshot}) and reports it failed with
 * `RetriesExhaustedError`; skipped as `claimed` when another worker wrote the record meanwhile.
 */
export async function deadLetter(
  options: ResolvedCoordinatorOptions,
  ref: InstanceRef,
  snapshot: WorkflowExecutionSnapshot,
  lastError: Error | undefined,
  signal: AbortSignal,
): Promise<FailedInstance | SkippedInstance> {
  const keys = keysOf(ref);
  const attempts = snapshot.attempts ?? 0;
  const error = new RetriesExhaustedError(keys, snapshot.workflowName, attempts, lastError);
  const record = deadLetterSnapshot(snapshot, lastError ?? error, options.persistence.owner);
  try {
    if (signal.aborted) throw abortError(signal, {});
    await savedWithin(options.provider, record, options.leaseTtlMs, signal);
  } catch (saveError) {
    if (isWorkflowForgeError(saveError) && saveError.code === "SNAPSHOT_CONFLICT") return { ...ref, status: "skipped", reason: "claimed", detail: saveError.message };
    return failed(ref, toError(saveError), attempts, false);
  }
  return failed(ref, error, attempts, true);
}
