import { logSafely } from "../logger.js";
import { suspendsRun } from "../run-errors.js";
import type { OperationMiddleware } from "../types.js";
import { markFactory } from "./factories.js";

/**
 * Logs each operation's start (debug), completion (info) and failure (error) through the foundry's
 * logger. A run that stopped at a durable wait did not fail: that is logged as `suspended` (info).
 * A logger that throws (a closed transport) changes nothing: the operation's outcome is the same.
 */
export function loggingMiddleware(...unexpected: []): OperationMiddleware {
  // A logger passed here would be ignored silently: the foundry's is the one used.
  if (unexpected.length > 0) throw new TypeError("loggingMiddleware() takes no argument: it logs through the foundry's logger (createFoundry(name, { logger }))");
  return async (context, next) => {
    const { logger } = context.foundry;
    const label = `${context.run.workflow.name} #${context.index} "${context.operation.name}"`;
    logSafely(logger, "debug", `${label} started`);
    try {
      const result = await next();
      logSafely(logger, "info", `${label} completed`);
      return result;
    } catch (error) {
      if (suspendsRun(error, context.run.identity)) logSafely(logger, "info", `${label} suspended`, error);
      else logSafely(logger, "error", `${label} failed`, error);
      throw error;
    }
  };
}

markFactory(loggingMiddleware, "loggingMiddleware()");
