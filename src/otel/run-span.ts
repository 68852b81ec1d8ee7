import { context as contexts, trace, type Attributes, type Context, type Link, type Span, type Tracer } from "@opentelemetry/api";
import type { Foundry } from "../foundry.js";
import type { RunContext } from "../types.js";
import { annotationKeys, attr } from "./attributes.js";
import { quietly, startSpan } from "./spans.js";
import { formatTraceparent, parseTraceparent } from "./traceparent.js";
import { logSafely } from "../logger.js";

/** A run's span as it started. */
export interface RunSpan {
  readonly span: Span;
  /** The context the run's children start in. */
  readonly context: Context;
  /** Whether the span is recorded: false with no SDK, or when the run was sampled out. */
  readonly recording: boolean;
  /** Whether the run continues a trace an earlier run of its instance stored. */
  readonly continues: boolean;
}

/**
 * Starts the span of `run` (started at `startTime`): a child of the instance's first run when an
 * earlier run stored its context, else of the active span, whose context it then stores.
 */
export function openRunSpan(tracer: Tracer, run: RunContext, foundry: Foundry<any>, startTime: number, attempt: number | undefined): RunSpan {
  const { workflow, annotations, identity } = run;
  const active = contexts.active();
  const stored = parseTraceparent(annotations.get(annotationKeys.traceparent), annotations.get(annotationKeys.tracestate));
  const links: Link[] = [];
  let parent = active;
  if (stored !== undefined) {
    // The instance's first run is the parent of every later one: one trace per instance. What
    // started this process's run (a worker's loop, a request) is linked instead.
    const caller = trace.getSpanContext(active);
    if (caller !== undefined) links.push({ context: caller });
    parent = trace.setSpanContext(active, stored);
  }
  const attributes: Attributes = {
    [attr.workflowName]: workflow.name,
    [attr.workflowId]: workflow.id,
    [attr.instanceId]: identity.instanceId,
    [attr.workflowKey]: identity.workflowKey,
    [attr.operationCount]: workflow.operations.length,
    [attr.compensates]: run.compensates,
  };
  if (workflow.version !== undefined) attributes[attr.workflowVersion] = workflow.version;
  if (stored !== undefined) attributes[attr.resumed] = true;
  if (attempt !== undefined) attributes[attr.attempt] = attempt;
  const span = startSpan({ tracer }, `run ${workflow.name}`, { startTime, attributes, links }, parent);
  const recording = quietly("Span.isRecording", () => span.isRecording(), false);
  if (stored === undefined) storeContext(span, run, foundry);
  return { span, context: trace.setSpan(parent, span), recording, continues: stored !== undefined };
}

function storeContext(span: Span, run: RunContext, foundry: Foundry<any>): void {
  const spanContext = quietly("Span.spanContext", () => span.spanContext(), undefined);
  const traceparent = spanContext === undefined ? undefined : formatTraceparent(spanContext);
  if (traceparent === undefined) return;
  try {
    run.annotations.set(annotationKeys.traceparent, traceparent);
    const state = spanContext?.traceState?.serialize();
    if (state !== undefined && state !== "") run.annotations.set(annotationKeys.tracestate, state);
  } catch (error) {
    logSafely(foundry.logger, "warn", `workflowforge/otel: could not store the trace context of ${run.workflow.name}`, error);
  }
}
