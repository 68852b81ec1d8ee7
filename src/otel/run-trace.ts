import { context as contexts, trace, type Attributes, type Context, type Link, type Span } from "@opentelemetry/api";
import type { Foundry } from "../foundry.js";
import type { OperationContext, RunContext } from "../types.js";
import { annotationKeys, attr, errorTypeOf, events, runErrorTypeOf } from "./attributes.js";
import { CompensationTrace } from "./compensation-trace.js";
import type { Instruments } from "./metrics.js";
import { isSuspended, type WorkflowSuspendedError } from "../errors.js";
import { suspendsRun } from "../run-errors.js";
import { now, quietly, recordError, startSpan } from "./spans.js";
import type { Telemetry } from "./telemetry.js";
import { formatTraceparent, parseTraceparent } from "./traceparent.js";

/** Ends a run's span with the run's final outcome, when something outside the run knows it (the smith). */
export interface RunOwner {
  trace: RunTrace | undefined;
}

/**
 * The span of one run and of its operations. The run's span starts lazily, at the first thing that
 * happens after every `start` hook ran (persistence's hook restores the stored trace context, and
 * may come after ours), with the time the run started.
 */
export class RunTrace {
  readonly run: RunContext;
  readonly instruments: Instruments;
  /** Whether this run's spans are recorded: false with no SDK, or when the run was sampled out. */
  recording = false;
  /** The outermost code that knows the run's final outcome, when it is not the run itself. */
  owner: RunOwner | undefined;

  readonly #telemetry: Telemetry;
  readonly #foundry: Foundry<any>;
  readonly #attempt: number | undefined;
  readonly #started = now();
  #span: Span | undefined;
  #context: Context | undefined;
  #resumed = false;
  #skipped = 0;
  #executed = 0;
  #ended = false;
  #compensation: CompensationTrace | undefined;
  #claim: { readonly at: number; readonly revision: number } | "noted" | undefined;
  /** The operation whose checkpoint is awaited, with the time it completed. */
  checkpoint: { readonly index: number; readonly at: number } | undefined;

  constructor(telemetry: Telemetry, instruments: Instruments, run: RunContext, foundry: Foundry<any>, attempt: number | undefined) {
    this.#telemetry = telemetry;
    this.#attempt = attempt;
    this.run = run;
    this.#foundry = foundry;
    this.instruments = instruments;
    if (this.instruments.live) this.instruments.runsStarted.add(1, { [attr.workflowName]: run.workflow.name });
  }

  /** The run's span, started on first use. */
  get span(): Span {
    return this.#span ?? this.#open();
  }

  /** The context the run's children start in. */
  get context(): Context {
    if (this.#context === undefined) this.#open();
    return this.#context as Context;
  }

  /** Starts the run's span now, if it has not started yet. */
  open(): void {
    if (this.#span === undefined) this.#open();
  }

  #open(): Span {
    const { workflow, annotations, identity } = this.run;
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
      this.#markResumed();
    }
    const attributes: Attributes = {
      [attr.workflowName]: workflow.name,
      [attr.workflowId]: workflow.id,
      [attr.instanceId]: identity.instanceId,
      [attr.workflowKey]: identity.workflowKey,
      [attr.operationCount]: workflow.operations.length,
      [attr.compensates]: this.run.compensates,
    };
    if (workflow.version !== undefined) attributes[attr.workflowVersion] = workflow.version;
    if (stored !== undefined) attributes[attr.resumed] = true;
    if (this.#attempt !== undefined) attributes[attr.attempt] = this.#attempt;
    const span = startSpan(this.#telemetry, `run ${workflow.name}`, { startTime: this.#started, attributes, links }, parent);
    this.#span = span;
    this.#context = trace.setSpan(parent, span);
    this.recording = quietly("Span.isRecording", () => span.isRecording(), false);
    if (stored === undefined) this.#storeContext(span);
    const claim = this.#claim;
    if (typeof claim === "object" && this.recording) quietly("Span.addEvent", () => span.addEvent(events.claimed, { [attr.revision]: claim.revision }, claim.at), undefined);
    return span;
  }

  /**
   * A snapshot was stored that is no operation's checkpoint: before the first operation, that is
   * the run's claim on the instance (a leased run stores it first); later, a lease renewal.
   */
  saved(revision: number): void {
    if (this.#executed > 0 || this.#claim !== undefined) return;
    const claim = { at: now(), revision };
    this.#claim = this.#span === undefined ? claim : "noted";
    const span = this.#span;
    if (span !== undefined && this.recording) quietly("Span.addEvent", () => span.addEvent(events.claimed, { [attr.revision]: revision }, claim.at), undefined);
  }

  /** Runs the operation at `context` through the inner layers, traced and measured as configured. */
  operation(context: OperationContext<any>, next: () => Promise<unknown>): Promise<unknown> {
    this.open();
    if (this.recording) return this.traced(context, next);
    this.#executed++;
    if (!this.instruments.live) return next();
    const started = now();
    return next().then(
      (result) => {
        this.finished(context, started, undefined);
        return result;
      },
      (error: unknown) => {
        this.finished(context, started, suspendsRun(error, this.run.identity) ? undefined : { value: error });
        throw error;
      },
    );
  }

  #storeContext(span: Span): void {
    const spanContext = quietly("Span.spanContext", () => span.spanContext(), undefined);
    const traceparent = spanContext === undefined ? undefined : formatTraceparent(spanContext);
    if (traceparent === undefined) return;
    try {
      this.run.annotations.set(annotationKeys.traceparent, traceparent);
      const state = spanContext?.traceState?.serialize();
      if (state !== undefined && state !== "") this.run.annotations.set(annotationKeys.tracestate, state);
    } catch (error) {
      this.#foundry.logger.warn(`workflowforge/otel: could not store the trace context of ${this.run.workflow.name}`, error);
    }
  }

  #markResumed(): void {
    if (this.#resumed) return;
    this.#resumed = true;
    const span = this.#span;
    if (span !== undefined && this.recording) quietly("Span.setAttribute", () => span.setAttribute(attr.resumed, true), undefined);
    if (this.instruments.live) this.instruments.runsResumed.add(1, { [attr.workflowName]: this.run.workflow.name });
  }

  /** An earlier run completed operation `index`: this one passes over it. */
  skipped(index: number, operationName: string): void {
    const span = this.span;
    this.#skipped++;
    this.#markResumed();
    if (this.recording) quietly("Span.addEvent", () => span.addEvent(events.skipped, { [attr.operationName]: operationName, [attr.operationIndex]: index }), undefined);
  }

  /** Runs the operation at `context` inside its span (the caller checked {@link recording}). */
  traced(context: OperationContext<any>, next: () => Promise<unknown>): Promise<unknown> {
    const { operation, index } = context;
    const attributes: Attributes = { [attr.operationName]: operation.name, [attr.operationIndex]: index };
    const functionName = operation.forge.name;
    if (functionName !== "" && functionName !== "forge") attributes[attr.codeFunction] = functionName;
    if (this.#executed++ === 0 && this.#resumed) {
      // The first operation after a resume is the one an earlier run may have started: operations run at least once.
      attributes[attr.rerun] = true;
      const run = this.span;
      if (this.#skipped > 0) quietly("Span.setAttribute", () => run.setAttribute(attr.resumedFrom, index), undefined);
    }
    const span = startSpan(this.#telemetry, `operation ${operation.name}`, { attributes }, this.context);
    const started = this.instruments.live ? now() : 0;
    return contexts.with(trace.setSpan(this.context, span), next).then(
      (result) => {
        this.finished(context, started, undefined);
        quietly("Span.end", () => span.end(), undefined);
        return result;
      },
      (error: unknown) => {
        const waits = suspendsRun(error, this.run.identity);
        this.finished(context, started, waits ? undefined : { value: error });
        // A durable wait is no failure: the operation's span ends as the run stops to wait.
        quietly("ending a span", () => endWith(span, waits ? undefined : { error }), undefined);
        throw error;
      },
    );
  }


  /** Metrics after operation `context` settled. */
  finished(context: OperationContext<any>, started: number, failure: { readonly value: unknown } | undefined): void {
    if (started === 0 || !this.instruments.live) return;
    const attributes: Attributes = { [attr.workflowName]: this.run.workflow.name, [attr.operationName]: context.operation.name };
    if (failure !== undefined) attributes[attr.errorType] = errorTypeOf(failure.value);
    this.instruments.operationDuration.record((now() - started) / 1000, attributes);
  }

  /** The run's compensation, started on first use. */
  get compensation(): CompensationTrace {
    this.#compensation ??= new CompensationTrace(this.#telemetry, this);
    return this.#compensation;
  }

  /**
   * Ends the run's span (once) with `outcome`: what the run settled with (whatever layers sit
   * outside this one, a failed last checkpoint included), or what the smith that owns it settled with.
   */
  end(outcome: { readonly ok: true } | { readonly ok: false; readonly error: unknown }): void {
    if (this.#ended) return;
    this.#ended = true;
    quietly("ending a run's span", () => this.#end(outcome), undefined);
  }

  #end(outcome: { readonly ok: true } | { readonly ok: false; readonly error: unknown }): void {
    const span = this.span;
    this.#compensation?.end();
    const { instruments } = this;
    const name = this.run.workflow.name;
    if (outcome.ok) {
      if (instruments.live) instruments.runsCompleted.add(1, { [attr.workflowName]: name });
    } else if (isSuspended(outcome.error)) {
      // Not a failure: the run waits durably, and a later run continues the instance.
      if (instruments.live) instruments.runsSuspended.add(1, { [attr.workflowName]: name });
      if (this.recording) span.addEvent(events.suspended, suspendedAttributes(outcome.error));
    } else {
      const type = runErrorTypeOf(outcome.error);
      if (instruments.live) {
        instruments.runsFailed.add(1, { [attr.workflowName]: name, [attr.errorType]: type });
        if (type === "SNAPSHOT_CONFLICT") instruments.claimsLost.add(1, { [attr.workflowName]: name });
      }
      if (type === "SNAPSHOT_CONFLICT" && this.recording) span.addEvent(events.claimLost);
      recordError(span, outcome.error, type);
    }
    span.end();
  }
}

function suspendedAttributes(error: WorkflowSuspendedError): Attributes {
  const attributes: Attributes = {};
  if (error.waitingFor !== undefined) attributes[attr.waitingFor] = error.waitingFor;
  if (error.wakeAt !== undefined) attributes[attr.wakeAt] = error.wakeAt.toISOString();
  return attributes;
}

function endWith(span: Span, failure: { readonly error: unknown } | undefined): void {
  if (failure !== undefined) recordError(span, failure.error, errorTypeOf(failure.error));
  span.end();
}
