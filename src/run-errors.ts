import { OperationFailedError, isSuspended, isWorkflowForgeError, type ErrorLocation, type WorkflowForgeError, type WorkflowSuspendedError } from "./errors.js";
import type { InstanceIdentity } from "./types.js";

// Which error a run rejects with when an operation failed. An operation may run a workflow of its
// own (a nested smith.forge); that run's timeout or suspension is this operation's failure, never
// this run's timeout or suspension, which would skip its compensation or leave it waiting for a
// wake-up nothing will ever send.

/**
 * True when `error` suspends the instance `identity`: not a run nested in one of its operations,
 * whose suspension is that operation's failure.
 */
export function suspends(error: unknown, identity: InstanceIdentity): error is WorkflowSuspendedError {
  return isSuspended(error) && error.instanceId === identity.instanceId && error.workflowKey === identity.workflowKey;
}

/**
 * What a run of `identity` rejects with when the operation at `location` failed with `thrown`: an
 * engine error of its own as it is, located where it does not say (a forEach child's error names
 * the forEach, not its index); anything else, another run's errors included, as
 * `OperationFailedError` with `thrown` as its cause.
 */
export function operationFailure(thrown: unknown, location: ErrorLocation, identity: InstanceIdentity): Error {
  if (isWorkflowForgeError(thrown) && ownError(thrown, location, identity)) return locatedAt(thrown, location);
  return new OperationFailedError(location, thrown);
}

function ownError(error: WorkflowForgeError, location: ErrorLocation, identity: InstanceIdentity): boolean {
  if (isSuspended(error)) return suspends(error, identity);
  return error.workflowName === undefined || error.workflowName === location.workflowName;
}

function locatedAt(error: WorkflowForgeError, location: ErrorLocation): WorkflowForgeError {
  const fields = error as { workflowName: string | undefined; operationName: string | undefined; operationIndex: number | undefined };
  fields.workflowName ??= location.workflowName;
  if (fields.operationIndex === undefined && (fields.operationName === undefined || fields.operationName === location.operationName)) {
    fields.operationName = location.operationName;
    fields.operationIndex = location.operationIndex;
  }
  return error;
}
