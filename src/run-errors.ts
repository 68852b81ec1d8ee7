import { OperationFailedError, isSuspended, isWorkflowForgeError, type ErrorLocation, type WorkflowForgeError } from "./errors.js";
import type { InstanceIdentity } from "./types.js";

// Which error a run rejects with when an operation failed. An operation may run a workflow of its
// own (a smith.forge inside it); that run's timeout or suspension is this operation's failure,
// never this run's own timeout or suspension, which would skip its compensation or leave it
// waiting for a wake-up nothing will ever send.

/**
 * True when `error`, met by the run of `identity` in an operation's hands, stops another run: a
 * suspension of another instance, or a smith's timeout. A run meets its own smith's timeout only as
 * the reason its signal aborted, which the run checks before asking.
 */
export function stopsAnotherRun(error: unknown, identity: InstanceIdentity): boolean {
  if (!isWorkflowForgeError(error)) return false;
  if (isSuspended(error)) return error.instanceId !== identity.instanceId || error.workflowKey !== identity.workflowKey;
  return error.code === "WORKFLOW_TIMEOUT";
}

/** True when `error` is the suspension of the run of `identity` itself: it stopped to wait, and nothing failed. */
export function suspendsRun(error: unknown, identity: InstanceIdentity): boolean {
  return isSuspended(error) && !stopsAnotherRun(error, identity);
}

/**
 * What the run of `identity` rejects with when the operation at `location` failed with `thrown`
 * (its signal not aborted): an engine error of its own as it is, located where it does not say (a
 * forEach child's error names the forEach, not its index); anything else, another run's timeout or
 * suspension included, as `OperationFailedError` with `thrown` as its cause.
 */
export function operationFailure(thrown: unknown, location: ErrorLocation, identity: InstanceIdentity): Error {
  if (isWorkflowForgeError(thrown) && !stopsAnotherRun(thrown, identity)) return locatedAt(thrown, location);
  return new OperationFailedError(location, thrown);
}

// An error raised inside an operation (a nested forEach's, say) keeps the name of what raised it;
// the index is always the workflow operation's. A frozen error is left as it is.
function locatedAt(error: WorkflowForgeError, location: ErrorLocation): WorkflowForgeError {
  if (Object.isFrozen(error)) return error;
  const fields = error as { workflowName: string | undefined; operationName: string | undefined; operationIndex: number | undefined };
  fields.workflowName ??= location.workflowName;
  if (fields.operationIndex === undefined) {
    fields.operationName ??= location.operationName;
    fields.operationIndex = location.operationIndex;
  }
  return error;
}
