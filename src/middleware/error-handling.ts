import { requireFunction } from "../internal/validate.js";
import { stopsRun } from "../run-errors.js";
import type { MaybePromise, OperationContext, OperationMiddleware } from "../types.js";
import { markFactory } from "./factories.js";

/**
 * Observes or handles operation errors. `onError` may return a value, which becomes the
 * operation's output (the error is recovered), or throw (the same or another error) to fail.
 * Errors that stop the run itself (a suspension, a failed checkpoint, a cancellation, an abort:
 * every code that skips compensation) pass through without `onError`, and so does any error once
 * the operation's signal aborted: recovering from them would skip a durable wait, run on past a
 * checkpoint that was never stored, or let an aborted run complete.
 */
export function errorHandlingMiddleware<P extends object = any>(
  onError: (error: unknown, context: OperationContext<P>) => MaybePromise<unknown>,
): OperationMiddleware<P> {
  requireFunction(onError, "errorHandlingMiddleware(onError)");
  return async (context, next) => {
    try {
      return await next();
    } catch (error) {
      // Aborted (the run's signal, a smith's timeout, a timeout around this layer): whatever the
      // operation rejected with, the user's reason included, is the abort's, not a failure to recover from.
      if (context.signal.aborted || stopsRun(error, context.run.identity)) throw error;
      return onError(error, context);
    }
  };
}

markFactory(errorHandlingMiddleware, "errorHandlingMiddleware(onError)");
