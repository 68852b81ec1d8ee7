import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { storedError } from "../stored-error.js";

/**
 * The record of an instance that used up its attempts: status `failed` with the last error, the
 * lease released, progress and properties untouched so it can be inspected (and, after a fix,
 * deleted or resumed by a coordinator allowing more attempts).
 */
export function deadLetterSnapshot(snapshot: WorkflowExecutionSnapshot, error: Error, owner: string): WorkflowExecutionSnapshot {
  const operationName = snapshot.error?.operationName ?? "";
  const record: Record<string, unknown> = {
    ...snapshot,
    status: "failed",
    error: storedError(error, snapshot.nextOperationIndex, operationName),
    owner,
    revision: snapshot.revision + 1,
    updatedAt: new Date().toISOString(),
  };
  delete record.leaseExpiresAt;
  return record as unknown as WorkflowExecutionSnapshot;
}
