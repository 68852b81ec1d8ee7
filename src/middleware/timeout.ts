import { raceAbort } from "../abort.js";
import { OperationTimeoutError } from "../errors.js";
import { requireTimerMs } from "../internal/validate.js";
import type { OperationMiddleware } from "../types.js";

/**
 * Gives every operation at most `ms` milliseconds: when it elapses, the operation's signal is
 * aborted and the run rejects with {@link OperationTimeoutError}, even if the operation ignores
 * its signal.
 */
export function timeoutMiddleware(ms: number): OperationMiddleware {
  requireTimerMs(ms, "timeoutMiddleware(ms)");
  return async (context, next) => {
    const location = { workflowName: context.run.workflow.name, operationName: context.operation.name, operationIndex: context.index };
    const timeout = new OperationTimeoutError(location, ms);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(timeout), ms);
    const signal = AbortSignal.any([context.signal, controller.signal]);
    try {
      return await raceAbort(next({ ...context, signal }), controller.signal, () => timeout);
    } finally {
      clearTimeout(timer);
    }
  };
}
