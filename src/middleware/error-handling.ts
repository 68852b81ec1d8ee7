import { requireFunction } from "../internal/validate.js";
import type { MaybePromise, OperationContext, OperationMiddleware } from "../types.js";

/**
 * Observes or handles operation errors. `onError` may return a value, which becomes the
 * operation's output (the error is recovered), or throw (the same or another error) to fail.
 */
export function errorHandlingMiddleware<P extends object = any>(
  onError: (error: unknown, context: OperationContext<P>) => MaybePromise<unknown>,
): OperationMiddleware<P> {
  requireFunction(onError, "errorHandlingMiddleware(onError)");
  return async (context, next) => {
    try {
      return await next();
    } catch (error) {
      return onError(error, context);
    }
  };
}
