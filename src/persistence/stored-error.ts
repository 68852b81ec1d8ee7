import { OperationFailedError, isWorkflowForgeError, messageOf } from "../errors.js";
import type { StoredError } from "./errors.js";

/**
 * What a snapshot records of a failure: the operation's own error rather than our wrapper, and the
 * operation the error names when it names one.
 */
export function storedError(error: unknown, operationIndex: number, operationName: string): StoredError {
  const root = error instanceof OperationFailedError ? error.cause : error;
  const name = root instanceof Error ? root.name : typeof root;
  if (isWorkflowForgeError(error) && error.operationIndex !== undefined) {
    return { name, message: messageOf(root), operationIndex: error.operationIndex, operationName: error.operationName ?? operationName };
  }
  return { name, message: messageOf(root), operationIndex, operationName };
}
