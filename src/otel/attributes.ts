import { isWorkflowForgeError } from "../errors.js";

// The names of every attribute, event and span this instrumentation writes. OpenTelemetry's
// semantic conventions have no stable workflow namespace, so ours are `workflowforge.*`; where a
// convention exists (`error.type`, `code.function.name`, the `exception` event) it is used as is.

/** Attribute names; the README lists them with what each holds. */
export const attr = {
  workflowName: "workflowforge.workflow.name",
  workflowVersion: "workflowforge.workflow.version",
  workflowId: "workflowforge.workflow.id",
  instanceId: "workflowforge.instance.id",
  workflowKey: "workflowforge.instance.workflow_key",
  operationCount: "workflowforge.workflow.operations",
  compensates: "workflowforge.run.compensates",
  resumed: "workflowforge.run.resumed",
  resumedFrom: "workflowforge.run.resumed_from",
  attempt: "workflowforge.run.attempt",
  operationName: "workflowforge.operation.name",
  operationIndex: "workflowforge.operation.index",
  rerun: "workflowforge.operation.rerun",
  refused: "workflowforge.operation.refused",
  pending: "workflowforge.compensation.pending",
  restoreFailures: "workflowforge.compensation.failures",
  revision: "workflowforge.snapshot.revision",
  waitingFor: "workflowforge.wait.event",
  wakeAt: "workflowforge.wait.wake_at",
  outcome: "workflowforge.outcome",
  errorType: "error.type",
  codeFunction: "code.function.name",
} as const;

/** Span event names. */
export const events = {
  skipped: "workflowforge.operation.skipped",
  claimed: "workflowforge.claim.acquired",
  claimLost: "workflowforge.claim.lost",
  restored: "workflowforge.snapshot.restored",
  suspended: "workflowforge.run.suspended",
} as const;

/** The annotation keys under which a run keeps its trace context in the snapshot. */
export const annotationKeys = { traceparent: "otel.traceparent", tracestate: "otel.tracestate" } as const;

/**
 * `error.type` of a thrown value: the library's stable `code`, or another string `code` (a
 * Node.js system error's `ECONNREFUSED`), else the error's class name; `_OTHER` for a non-error,
 * or for one whose fields cannot be read (a getter or a revoked proxy throws): what an operation
 * threw must neither leave its span open nor take the place of its error.
 */
export function errorTypeOf(error: unknown): string {
  try {
    if (isWorkflowForgeError(error)) return error.code;
    if (typeof error !== "object" || error === null) return "_OTHER";
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return code;
    const name: unknown = error instanceof Error ? error.name : undefined;
    return typeof name === "string" && name !== "" ? name : "_OTHER";
  } catch {
    return "_OTHER";
  }
}

/** `error.type` of a run's failure: what the engine makes of an operation's foreign error. */
export function runErrorTypeOf(error: unknown): string {
  return isWorkflowForgeError(error) ? error.code : "OPERATION_FAILED";
}
