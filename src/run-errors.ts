import type { Misuse } from "./compose.js";
import { MiddlewareError, OperationFailedError, isSuspended, isWorkflowForgeError, preventsCompensation, type ErrorLocation, type WorkflowForgeError } from "./errors.js";
import type { InstanceIdentity, OperationContext } from "./types.js";

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
 * True when `error` stops the run of `identity` itself without compensating it (its suspension, a
 * failed checkpoint, its cancellation, its abort…): a middleware must let it through unchanged.
 */
export function stopsRun(error: unknown, identity: InstanceIdentity): boolean {
  return preventsCompensation(error) && !stopsAnotherRun(error, identity);
}

/**
 * What the run of `identity` rejects with when the operation at `location` failed with `thrown`
 * (its signal not aborted): an engine error of its own as it is, located where it does not say (a
 * forEach child's error names the forEach, not its index); anything else, another run's timeout or
 * suspension included, as `OperationFailedError` with `thrown` as its cause.
 */
export function operationFailure(thrown: unknown, location: ErrorLocation, identity: InstanceIdentity, run: number): Error {
  if (isWorkflowForgeError(thrown) && !stopsAnotherRun(thrown, identity)) return locatedAt(thrown, location);
  return markMade(new OperationFailedError(location, thrown), run);
}

// Each run's number, in the order runs were created; the number of the run each error stopped;
// and the run that made each error it failed with (its operation's wrapper, its compensation's
// outcome), which an error thrown by a user, possibly shared by many runs, never is.
let runsCreated = 0;
const stoppedRun = new WeakMap<object, number>();
const madeBy = new WeakMap<object, number>();

/** Records that run number `run` made `error`, its failure, and returns it. */
export function markMade<E extends Error>(error: E, run: number): E {
  madeBy.set(error, run);
  return error;
}

/** A number for a new run, greater than every earlier run's. */
export function numberRun(): number {
  return ++runsCreated;
}

/** How many runs were created so far: a run created later has a greater number. */
export function runsSoFar(): number {
  return runsCreated;
}

/** Records that run number `run` rejected with `error`. */
export function markStopped(error: unknown, run: number): void {
  if (typeof error === "object" && error !== null) stoppedRun.set(error, run);
}

/**
 * What an operation's `forge` failing with `error` means to the run, when `since` runs had been
 * created as the operation started and `signal` is its signal. An error that stops runs (an abort,
 * a failed save, a conflict, a cancellation…) is the run's own when its own layers raised it (a
 * durable wait's failed save, a cancellation the operation throws) or when the operation's signal
 * aborted. What a run forged inside the operation (created after it started) rejected with, or a
 * foundry busy with another run, only failed the operation: `OperationFailedError` located at this
 * operation, compensated and recorded like any failure (an inner run's own failure names the inner
 * workflow's operation, which is not this run's). Its `cause` is the inner error.
 */
export function nestedRunFailure(error: unknown, since: number, signal: AbortSignal, location: () => ErrorLocation, run: number): unknown {
  if (signal.aborted || typeof error !== "object" || error === null) return error;
  // A stop error of a nested run, or a failure another run made (not, say, the abort reason a
  // nested run rejected with, which a sibling's failure may be: that is still this run's).
  const stopped = preventsCompensation(error) && ((error as WorkflowForgeError).code === "CONCURRENT_RUN" || (stoppedRun.get(error) ?? 0) > since);
  const made = madeBy.get(error);
  return stopped || (made !== undefined && made !== run) ? new OperationFailedError(location(), error) : error;
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

/** The error of operation middleware number `layerIndex` of `context`'s run that broke a rule of the chain. */
export function misuse(context: OperationContext<any>, layerIndex: number, problem: Misuse): Error {
  const location = { workflowName: context.run.workflow.name, operationName: context.operation.name, operationIndex: context.index };
  return new MiddlewareError(location, `operation middleware #${layerIndex} ${problem}`);
}
