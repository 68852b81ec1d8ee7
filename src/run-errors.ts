import { OperationFailedError, isWorkflowForgeError, type ErrorLocation, type WorkflowForgeError } from "./errors.js";

// Which error a run rejects with when an operation failed. An operation may run a workflow of its
// own (a nested smith.forge or foundry.forge); that run's timeout or suspension is this operation's
// failure, never this run's own timeout or suspension, which would skip its compensation or leave
// it waiting for a wake-up nothing will ever send. Names cannot tell the two apart (a workflow may
// forge another version of itself), so each run marks what it rejects with.

// The foundry of the run that rejected with an error first.
const raisedBy = new WeakMap<object, object>();

/** Marks `error` as what the run of `foundry` rejected with, unless an inner run's already; returns it. */
export function raisedIn(error: unknown, foundry: object): unknown {
  if (typeof error === "object" && error !== null && !raisedBy.has(error)) raisedBy.set(error, foundry);
  return error;
}

/** True when `error` is what another run than `foundry`'s rejected with: one nested in an operation. */
export function fromAnotherRun(error: unknown, foundry: object): boolean {
  const raiser = typeof error === "object" && error !== null ? raisedBy.get(error) : undefined;
  return raiser !== undefined && raiser !== foundry;
}

/**
 * What the run of `foundry` rejects with when the operation at `location` failed with `thrown`: an
 * engine error of its own as it is, located where it does not say (a forEach child's error names
 * the forEach, not its index); anything else, another run's errors included, as
 * `OperationFailedError` with `thrown` as its cause.
 */
export function operationFailure(thrown: unknown, location: ErrorLocation, foundry: object): Error {
  if (isWorkflowForgeError(thrown) && !fromAnotherRun(thrown, foundry)) return locatedAt(thrown, location);
  return new OperationFailedError(location, thrown);
}

// An error raised inside an operation (a nested forEach's, say) keeps the name of what raised it;
// the index is always the workflow operation's.
function locatedAt(error: WorkflowForgeError, location: ErrorLocation): WorkflowForgeError {
  const fields = error as { workflowName: string | undefined; operationName: string | undefined; operationIndex: number | undefined };
  fields.workflowName ??= location.workflowName;
  if (fields.operationIndex === undefined) {
    fields.operationName ??= location.operationName;
    fields.operationIndex = location.operationIndex;
  }
  return error;
}
