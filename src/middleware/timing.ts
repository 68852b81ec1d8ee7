import { isThenable } from "../internal/thenable.js";
import { logSafely } from "../logger.js";
import { suspendsRun } from "../run-errors.js";
import type { OperationContext, OperationMiddleware } from "../types.js";
import { markFactory } from "./factories.js";

export interface OperationTiming {
  readonly operationName: string;
  readonly index: number;
  readonly durationMs: number;
  readonly ok: boolean;
}

/**
 * Measures every operation, including the layers inside this one, and reports it to `record`. An
 * operation whose run stopped at a durable wait is not reported: it neither completed nor failed,
 * and is measured when the resumed run finishes it. A `record` that throws (or rejects) is logged
 * through the foundry's logger and changes nothing about the operation.
 */
export function timingMiddleware<P extends object = any>(
  record: (timing: OperationTiming, context: OperationContext<P>) => void,
): OperationMiddleware<P> {
  if (typeof record !== "function") throw new TypeError("timingMiddleware(record): record must be a function");
  return async (context, next) => {
    const started = performance.now();
    // A metrics client that is down must not fail the operation it measures: its failure is logged.
    const report = (ok: boolean): void => {
      try {
        const returned: unknown = record({ operationName: context.operation.name, index: context.index, durationMs: performance.now() - started, ok }, context);
        if (isThenable(returned)) returned.then(undefined, (error: unknown) => recordFailed(context, error));
      } catch (error) {
        recordFailed(context, error);
      }
    };
    let result: unknown;
    try {
      result = await next();
    } catch (error) {
      if (!suspendsRun(error, context.run.identity)) report(false);
      throw error;
    }
    report(true);
    return result;
  };
}

function recordFailed(context: OperationContext<any>, error: unknown): void {
  logSafely(context.foundry.logger, "error", `timingMiddleware: record threw for ${context.run.workflow.name} #${context.index} "${context.operation.name}"`, error);
}

markFactory(timingMiddleware, "timingMiddleware(record)");
