import type { OperationMiddleware } from "../types.js";

/** Logs each operation's start, completion and failure through the foundry's logger. */
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
      logger.error(`${label} failed`, error);
      throw error;
    }
  };
}
