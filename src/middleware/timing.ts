import type { OperationContext, OperationMiddleware } from "../types.js";

export interface OperationTiming {
  readonly operationName: string;
  readonly index: number;
  readonly durationMs: number;
  readonly ok: boolean;
}

/** Measures every operation, including the layers inside this one, and reports it to `record`. */
export function timingMiddleware<P extends object = any>(
  record: (timing: OperationTiming, context: OperationContext<P>) => void,
): OperationMiddleware<P> {
  if (typeof record !== "function") throw new TypeError("timingMiddleware(record): record must be a function");
  return async (context, next) => {
    const started = performance.now();
    let ok = false;
    try {
      const result = await next();
      ok = true;
      return result;
    } finally {
      record({ operationName: context.operation.name, index: context.index, durationMs: performance.now() - started, ok }, context);
    }
  };
}
