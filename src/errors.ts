import { messageOf, quotedMessageOf } from "./internal/thrown.js";

/**
 * Every error the library raises is a {@link WorkflowForgeError} with a stable `code`.
 * Subclasses exist for the cases callers catch; `cause` always carries the original failure.
 */
export type WorkflowForgeErrorCode =
  | "OPERATION_FAILED"
  | "OPERATION_TIMEOUT"
  | "WORKFLOW_TIMEOUT"
  | "ABORTED"
  | "CONCURRENT_RUN"
  | "MODIFIED_WHILE_RUNNING"
  | "MIDDLEWARE_MISUSE"
  | "ANNOTATION_LIMIT"
  | "COMPENSATION_FAILED"
  | "FOR_EACH_CHILD_FAILED"
  | "PERSISTENCE"
  | "SNAPSHOT_CONFLICT"
  | "SNAPSHOT_CORRUPTED"
  | "DEFINITION_MISMATCH"
  | "WORKFLOW_COMPENSATED"
  | "SNAPSHOT_SERIALIZATION"
  | "SNAPSHOT_TOO_LARGE"
  | "UNKNOWN_WORKFLOW"
  | "RETRIES_EXHAUSTED"
  | "WORKFLOW_SUSPENDED"
  | "WAIT_TIMEOUT"
  | "WORKFLOW_CANCELLED";

/** Where an error happened. Every field is optional because not every error concerns an operation. */
export interface ErrorLocation {
  readonly workflowName?: string | undefined;
  readonly operationName?: string | undefined;
  readonly operationIndex?: number | undefined;
}

/** What a {@link WorkflowForgeError} is constructed with besides its code and message. */
export interface WorkflowForgeErrorOptions extends ErrorLocation {
  readonly cause?: unknown;
}

// A registry symbol, not a class identity: two copies of the package in one process still
// recognise each other's errors.
const brand = Symbol.for("workflowforge.error");

/**
 * The base of every error the library raises: a stable `code`, the workflow, operation and index it
 * concerns, and the `cause` when there is one. Test for it with {@link isWorkflowForgeError}, which
 * works across duplicate copies of the package where `instanceof` does not.
 */
export class WorkflowForgeError extends Error {
  readonly code: WorkflowForgeErrorCode;
  readonly workflowName: string | undefined;
  readonly operationName: string | undefined;
  readonly operationIndex: number | undefined;

  constructor(code: WorkflowForgeErrorCode, message: string, options: WorkflowForgeErrorOptions = {}) {
    super(message, "cause" in options ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.code = code;
    this.workflowName = options.workflowName;
    this.operationName = options.operationName;
    this.operationIndex = options.operationIndex;
    Object.defineProperty(this, brand, { value: true });
  }
}

/** True for any error raised by any copy of workflowforge, even across duplicate installs. */
export function isWorkflowForgeError(value: unknown): value is WorkflowForgeError {
  try {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  } catch {
    return false; // a revoked proxy, or one whose get trap throws: not ours either
  }
}

/** Formats `workflow "x", operation "y" (#2)` for messages. */
export function describeLocation(location: ErrorLocation): string {
  const parts: string[] = [];
  if (location.workflowName !== undefined) parts.push(`workflow "${location.workflowName}"`);
  if (location.operationName !== undefined) {
    parts.push(`operation "${location.operationName}" (#${String(location.operationIndex ?? "?")})`);
  }
  return parts.join(", ");
}

export { messageOf };

/** An operation's `forge` threw or rejected; the thrown value is the `cause`. */
export class OperationFailedError extends WorkflowForgeError {
  constructor(location: ErrorLocation, cause: unknown) {
    super("OPERATION_FAILED", `${describeLocation(location)} failed: ${quotedMessageOf(cause)}`, { ...location, cause });
  }
}

/** A per-operation timeout elapsed; the operation's signal was aborted with this error. */
export class OperationTimeoutError extends WorkflowForgeError {
  readonly timeoutMs: number;
  constructor(location: ErrorLocation, timeoutMs: number) {
    super("OPERATION_TIMEOUT", `${describeLocation(location)} timed out after ${timeoutMs} ms`, location);
    this.timeoutMs = timeoutMs;
  }
}

/** The smith's workflow-level timeout elapsed; the run's signal was aborted with this error. */
export class WorkflowTimeoutError extends WorkflowForgeError {
  readonly timeoutMs: number;
  /** `cause`: the failure the run was compensating for when the timeout fired, if it was. */
  constructor(workflowName: string, timeoutMs: number, options: { readonly cause?: unknown } = {}) {
    super("WORKFLOW_TIMEOUT", `workflow "${workflowName}" timed out after ${timeoutMs} ms`, { workflowName, ...options });
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The run's signal was aborted. Its `name` is `"AbortError"` so code that checks for DOM-style
 * abort errors recognises it; the signal's reason is the `cause`.
 */
export class WorkflowAbortedError extends WorkflowForgeError {
  constructor(location: ErrorLocation, reason: unknown) {
    super("ABORTED", `${describeLocation(location)} was aborted: ${quotedMessageOf(reason)}`, { ...location, cause: reason });
    this.name = "AbortError";
  }
}

/** A foundry was asked to run while it was already running, or changed while running. */
export class FoundryBusyError extends WorkflowForgeError {
  constructor(code: "CONCURRENT_RUN" | "MODIFIED_WHILE_RUNNING", foundryName: string, what: string) {
    super(code, `foundry "${foundryName}" is running: ${what}`, { workflowName: foundryName });
  }
}

/** A middleware broke the onion's rules (for example it called `next()` twice). */
export class MiddlewareError extends WorkflowForgeError {
  constructor(location: ErrorLocation, message: string) {
    super("MIDDLEWARE_MISUSE", `${describeLocation(location)}: ${message}`, location);
  }
}

/** A run annotation past its limits: too many keys, or a key or value too long. */
export class AnnotationLimitError extends WorkflowForgeError {
  constructor(workflowName: string, message: string) {
    super("ANNOTATION_LIMIT", `workflow "${workflowName}": ${message}`, { workflowName });
  }
}

/** One restore failed during compensation. */
export interface RestoreFailure {
  readonly operationName: string;
  readonly operationIndex: number;
  readonly error: unknown;
}

/**
 * Raised instead of the original error when the smith's `throwOnCompensationError` is set and
 * at least one restore failed. `cause` is the original failure.
 */
export class CompensationError extends WorkflowForgeError {
  readonly failures: readonly RestoreFailure[];
  constructor(workflowName: string, cause: unknown, failures: readonly RestoreFailure[]) {
    const names = failures.map((f) => `"${f.operationName}" (#${f.operationIndex})`).join(", ");
    // Located where the original failure was: the operation whose failure was compensated.
    const at = isWorkflowForgeError(cause) ? cause : undefined;
    super("COMPENSATION_FAILED", `workflow "${workflowName}" failed and restore failed for ${names}: ${quotedMessageOf(cause)}`, {
      workflowName,
      operationName: at?.operationName,
      operationIndex: at?.operationIndex,
      cause,
    });
    this.failures = failures;
  }
}

/** Codes whose failure must not trigger compensation: the run may be resumed or owned elsewhere. */
const noCompensationCodes: ReadonlySet<WorkflowForgeErrorCode> = new Set<WorkflowForgeErrorCode>([
  "ABORTED",
  "WORKFLOW_TIMEOUT",
  "PERSISTENCE",
  "SNAPSHOT_CONFLICT",
  "SNAPSHOT_CORRUPTED",
  "DEFINITION_MISMATCH",
  "SNAPSHOT_SERIALIZATION",
  "SNAPSHOT_TOO_LARGE",
  "CONCURRENT_RUN",
  "WORKFLOW_SUSPENDED",
  "WORKFLOW_CANCELLED",
]);

/** True for an error of one of those codes: the run stops without compensating. */
export function preventsCompensation(error: unknown): boolean {
  return isWorkflowForgeError(error) && noCompensationCodes.has(error.code);
}

/** What a suspended run waits for: a wake time, an event, or both (an event with a timeout). */
export interface SuspendedAt extends ErrorLocation {
  readonly instanceId: string;
  readonly workflowKey: string;
  /** When the run is due again: a sleep's end, or an event wait's timeout. */
  readonly wakeAt?: Date | undefined;
  /** The event the run waits for. */
  readonly waitingFor?: string | undefined;
}

/**
 * Not a failure: the run reached a durable wait, stored that it waits, gave its claim back and
 * stopped, so no worker is held while it waits. Nothing is compensated or recorded as failed, and
 * no attempt is counted. A recovery coordinator continues the run when it is due (its wake time
 * came, or the event arrived). `forge` rejects with it so that code after `await forge()` never
 * takes it for the workflow's output; test for it with {@link isSuspended}.
 */
export class WorkflowSuspendedError extends WorkflowForgeError {
  readonly instanceId: string;
  readonly workflowKey: string;
  readonly wakeAt: Date | undefined;
  readonly waitingFor: string | undefined;
  constructor(at: SuspendedAt) {
    const what = [at.waitingFor === undefined ? undefined : `event "${at.waitingFor}"`, at.wakeAt === undefined ? undefined : `${at.waitingFor === undefined ? "" : "or "}${at.wakeAt.toISOString()}`];
    super("WORKFLOW_SUSPENDED", `${describeLocation(at)} suspended: waiting for ${what.filter(Boolean).join(" ")}`, at);
    this.instanceId = at.instanceId;
    this.workflowKey = at.workflowKey;
    this.wakeAt = at.wakeAt;
    this.waitingFor = at.waitingFor;
  }
}

/** True when a run stopped to wait ({@link WorkflowSuspendedError}), not because it failed. */
export function isSuspended(error: unknown): error is WorkflowSuspendedError {
  return isWorkflowForgeError(error) && error.code === "WORKFLOW_SUSPENDED";
}

/** `waitForEvent` reached its timeout before the event arrived. A failure like any other: compensated under a smith. */
export class WaitTimeoutError extends WorkflowForgeError {
  readonly event: string;
  readonly timeoutMs: number;
  constructor(location: ErrorLocation, event: string, timeoutMs: number) {
    super("WAIT_TIMEOUT", `${describeLocation(location)}: event "${event}" did not arrive within ${timeoutMs} ms`, location);
    this.event = event;
    this.timeoutMs = timeoutMs;
  }
}

/** The instance was cancelled (`coordinator.cancel`): its run stops and nothing of it runs again. */
export class WorkflowCancelledError extends WorkflowForgeError {
  constructor(location: ErrorLocation, detail: string) {
    super("WORKFLOW_CANCELLED", `${describeLocation(location)} was cancelled${detail === "" ? "" : `: ${detail}`}`, location);
  }
}
