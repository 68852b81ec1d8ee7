import type { Foundry as FoundryClass } from "./foundry.js";

export { createFoundry, type FoundryInit } from "./foundry.js";
/**
 * A foundry, as `createFoundry` makes it. A type only: the package exports no class to construct
 * or test with `instanceof`, and an alias keeps the bundled declarations from presenting one.
 */
export type Foundry<P extends object = any> = FoundryClass<P>;
export { createWorkflow, type Workflow, type WorkflowBuilder } from "./workflow.js";
export { createSmith, type Smith, type SmithOptions } from "./smith.js";
export { silentLogger } from "./logger.js";
export { idempotencyKeyOf } from "./idempotency.js";
export { withRestoreData, type RestoreDataResult } from "./outcome.js";

export { delegate } from "./operations/delegate.js";
export { action } from "./operations/action.js";
export { conditional, type ConditionalRecord } from "./operations/conditional.js";
export { forEach, ForEachChildError, type ForEachInput, type ForEachOptions } from "./operations/for-each.js";
export { delay } from "./operations/delay.js";
export { sleep, sleepUntil, waitForEvent, type WaitForEventOptions } from "./operations/wait.js";
export { systemClock, type Clock } from "./clock.js";
export type { WaitSpec, WaitHost, WaitRequest } from "./waits.js";

export { timingMiddleware, type OperationTiming } from "./middleware/timing.js";
export { loggingMiddleware } from "./middleware/logging.js";
export { timeoutMiddleware } from "./middleware/timeout.js";
export { errorHandlingMiddleware } from "./middleware/error-handling.js";

export {
  WorkflowForgeError,
  isWorkflowForgeError,
  OperationFailedError,
  OperationTimeoutError,
  WorkflowTimeoutError,
  WorkflowAbortedError,
  FoundryBusyError,
  MiddlewareError,
  AnnotationLimitError,
  CompensationError,
  WorkflowSuspendedError,
  WaitTimeoutError,
  WorkflowCancelledError,
  isSuspended,
  type SuspendedAt,
  type WorkflowForgeErrorCode,
  type ErrorLocation,
  type RestoreFailure,
} from "./errors.js";

export type { FoundryEvents, SmithEvents, Listener } from "./events.js";
export type {
  Properties,
  MaybePromise,
  Logger,
  Operation,
  ForgeFunction,
  RestoreFunction,
  OperationContext,
  OperationMiddleware,
  WorkflowContext,
  WorkflowMiddleware,
  WorkflowInfo,
  RunContext,
  RunOutcome,
  RunStart,
  RunAnnotations,
  ResumePoint,
  InstanceIdentity,
  CompensationObserver,
  CompensationProgress,
  ForgeOptions,
} from "./types.js";
