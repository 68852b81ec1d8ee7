import { context as contexts, isSpanContextValid, trace, type Attributes, type Context, type Link, type Span, type SpanContext, type Tracer } from "@opentelemetry/api";
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
 * The context of an instance's first run, kept by the recovery coordinator from one attempt at the
 * instance to the next: an attempt stopped before anything of it was stored (a smith's timeout in
 * its first operation) leaves the record without it, and the retry would otherwise start a new trace.
 */
export interface InstanceTrace {
  first: SpanContext | undefined;
}

/**
 * Starts the span of `run` (started at `startTime`): a child of the instance's first run when an
 * earlier run stored its context (or the coordinator's earlier attempt carried it, `instance`),
 * else of the active span, whose context it then stores.
 */
export function openRunSpan(tracer: Tracer, run: RunContext, foundry: Foundry<any>, startTime: number, attempt: number | undefined, instance?: InstanceTrace): RunSpan {
  const { workflow, annotations, identity } = run;
  const active = contexts.active();
  const own = parseTraceparent(annotations.get(annotationKeys.traceparent), annotations.get(annotationKeys.tracestate));
  const stored = own ?? instance?.first;
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
  const first = stored ?? quietly("Span.spanContext", () => span.spanContext(), undefined);
  // A context carried from an earlier attempt is stored too: with this run's claim or first checkpoint.
  if (own === undefined && first !== undefined) storeContext(first, run, foundry);
  if (instance !== undefined && first !== undefined && isSpanContextValid(first)) instance.first = first;
  return { span, context: trace.setSpan(parent, span), recording, continues: stored !== undefined };
}

function storeContext(spanContext: SpanContext, run: RunContext, foundry: Foundry<any>): void {
  const traceparent = formatTraceparent(spanContext);
  if (traceparent === undefined) return;
  try {
    run.annotations.set(annotationKeys.traceparent, traceparent);
    const state = spanContext.traceState?.serialize();
    if (state !== undefined && state !== "") run.annotations.set(annotationKeys.tracestate, state);
  } catch (error) {
    logSafely(foundry.logger, "warn", `workflowforge/otel: could not store the trace context of ${run.workflow.name}`, error);
  }
}
