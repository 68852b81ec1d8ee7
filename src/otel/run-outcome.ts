import type { Attributes, Span } from "@opentelemetry/api";
import { isSuspended, type WorkflowSuspendedError } from "../errors.js";
import type { RunContext } from "../types.js";
import { attr, events, runErrorTypeOf } from "./attributes.js";
import type { Instruments } from "./metrics.js";
import { recordError } from "./spans.js";

/** How a run ended, as its span reports it. */
export type TracedOutcome = { readonly ok: true } | { readonly ok: false; readonly error: unknown };

/** Counts the run's `outcome`, and records it on its span (which the caller ends). */
export function reportOutcome(span: Span, trace: { readonly run: RunContext; readonly instruments: Instruments; readonly recording: boolean; readonly heldInstance: boolean }, outcome: TracedOutcome): void {
  const { instruments, recording } = trace;
  const name = trace.run.workflow.name;
  if (outcome.ok) {
    if (instruments.live) instruments.runsCompleted.add(1, { [attr.workflowName]: name });
  } else if (isSuspended(outcome.error)) {
    // Not a failure: the run waits durably, and a later run continues the instance.
    if (instruments.live) instruments.runsSuspended.add(1, { [attr.workflowName]: name });
    if (recording) span.addEvent(events.suspended, suspendedAttributes(outcome.error));
  } else {
    const type = runErrorTypeOf(outcome.error);
    // A conflict is a lost claim only for a run that had one, or had started: a start refused
    // because another run holds the instance (a webhook delivered twice) took nothing over.
    const lost = type === "SNAPSHOT_CONFLICT" && trace.heldInstance;
    if (instruments.live) {
      instruments.runsFailed.add(1, { [attr.workflowName]: name, [attr.errorType]: type });
      if (lost) instruments.claimsLost.add(1, { [attr.workflowName]: name });
    }
    if (lost && recording) span.addEvent(events.claimLost);
    recordError(span, outcome.error, type);
  }
}

function suspendedAttributes(error: WorkflowSuspendedError): Attributes {
  const attributes: Attributes = {};
  if (error.waitingFor !== undefined) attributes[attr.waitingFor] = error.waitingFor;
  if (error.wakeAt !== undefined) attributes[attr.wakeAt] = error.wakeAt.toISOString();
  return attributes;
}
