import { suspendsRun } from "../run-errors.js";
import type { OperationMiddleware } from "../types.js";

/**
 * Logs each operation's start (debug), completion (info) and failure (error) through the foundry's
 * logger. A run that stopped at a durable wait did not fail: that is logged as `suspended` (info).
 */
export function loggingMiddleware(): OperationMiddleware {
  return async (context, next) => {
    const { logger } = context.foundry;
    const label = `${context.run.workflow.name} #${context.index} "${context.operation.name}"`;
    logger.debug(`${label} started`);
    try {
      const result = await next();
      logger.info(`${label} completed`);
      return result;
    } catch (error) {
      if (suspendsRun(error, context.run.identity)) logger.info(`${label} suspended`, error);
      else logger.error(`${label} failed`, error);
      throw error;
    }
  };
}
