import { abortWith, linkedSignal, raceAbort } from "../abort.js";
import { OperationTimeoutError } from "../errors.js";
import { requireTimerMs } from "../internal/validate.js";
import type { OperationMiddleware } from "../types.js";
import { markFactory } from "./factories.js";

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
    const timer = setTimeout(() => abortWith(controller, timeout), ms);
    // Linked, not AbortSignal.any: on Node 20 that keeps every signal it made reachable from a
    // long-lived source (the run's), one per operation, for as long as the process lives.
    const linked = linkedSignal([context.signal, controller.signal]);
    try {
      return await raceAbort(next({ ...context, signal: linked.signal }), controller.signal, () => timeout);
    } finally {
      clearTimeout(timer);
      linked.dispose();
    }
  };
}

markFactory(timeoutMiddleware, "timeoutMiddleware(ms)");
