import { INVALID_SPAN_CONTEXT, trace, type Attributes, type Context, type Tracer } from "@opentelemetry/api";
import type { OperationContext, RunContext } from "../types.js";
import { attr, errorTypeOf } from "./attributes.js";
import { DeferredSpan } from "./deferred-span.js";
import type { Instruments } from "./metrics.js";
import { endWith, now, quietly, startSpan } from "./spans.js";

/** What an operation's trace takes from its run's. */
export interface OperationParent {
  readonly tracer: Tracer;
  readonly instruments: Instruments;
  readonly run: RunContext;
  /** The context the run's children start in. */
  readonly context: Context;
}

/**
 * The span and the duration of one operation, each reported once: when the operation settles, or
 * when its run's span ends first (a smith's timeout gave up on an operation that ignores its
 * signal, which may never settle). The span starts when the operation does, with the time this
 * layer passed it on: it covers the layers inside (a checkpoint) without being started for an
 * operation one of them refused.
 */
export class OperationTrace {
  readonly index: number;
  /** What the layers inside and the operation run under, when the run's spans are recorded. */
  readonly span: DeferredSpan | undefined;
  readonly #parent: OperationParent;
  readonly #name: string;
  // 0 when neither a span nor a duration needs the time.
  readonly #started: number;
  #done = false;
  #began = false;

  constructor(parent: OperationParent, context: OperationContext<any>, attributes: Attributes | undefined) {
    this.index = context.index;
    this.#parent = parent;
    this.#name = context.operation.name;
    this.#started = parent.instruments.live || attributes !== undefined ? now() : 0;
    if (attributes === undefined) return;
    // On the clock the spans started inside it take theirs from (Date.now(), whole milliseconds):
    // a sub-millisecond time here would put the operation's start after theirs.
    const startTime = Date.now();
    this.span = new DeferredSpan(() => startSpan(parent, `operation ${this.#name}`, { attributes, startTime }, parent.context));
  }

  /** The operation starts, past every layer inside: so does its span. */
  start(): void {
    this.#began = true;
    if (!this.#done) void this.span?.real;
  }

  /**
   * The run's span ends before the operation settled, or the run moved on without it: a layer
   * outside the instrumentation gave up on it (a timeout whose error a layer recovered). One that
   * never started never ran. One that did ends now: with the run's failure when there is one (a
   * smith's timeout); otherwise it is marked abandoned, an error, as it never completed.
   */
  abandon(failure: { readonly error: unknown } | undefined): void {
    if (this.#done) return;
    if (!this.#began) return this.refused();
    this.finish(failure ?? { error: abandoned, type: "ABANDONED" });
  }

  /**
   * The operation settled (or its run's span ends first): ends its span with `failure` (none for
   * a durable wait) and records its duration, once. A layer inside that answered for the operation
   * without running it (a cache) gets a span all the same: it produced the operation's result.
   */
  finish(failure: { readonly error: unknown; readonly type?: string } | undefined): void {
    if (this.#done) return;
    this.#done = true;
    const failed = failure === undefined ? undefined : { error: failure.error, type: failure.type ?? errorTypeOf(failure.error) };
    const { instruments, run } = this.#parent;
    if (this.#started !== 0 && instruments.live) {
      const attributes: Attributes = { [attr.workflowName]: run.workflow.name, [attr.operationName]: this.#name };
      if (failed !== undefined) attributes[attr.errorType] = failed.type;
      instruments.operationDuration.record((now() - this.#started) / 1000, attributes);
    }
    const span = this.span?.real;
    if (span !== undefined) quietly("ending a span", () => endWith(span, failed), undefined);
  }

  /**
   * A layer inside refused to start the operation (its claim lost, the coordinator closing): what
   * never ran has no duration and no span. Only a span something inside started (a child) exists:
   * it ends, marked as refused, with no error of its own (the run's span carries it).
   */
  refused(): void {
    if (this.#done) return;
    this.#done = true;
    const span = this.span;
    // What still reads the span later finds the run's, non-recording: nothing starts that would never end.
    const run = quietly("reading the run's span context", () => trace.getSpanContext(this.#parent.context), undefined);
    if (span === undefined || !span.withhold(trace.wrapSpanContext(run ?? INVALID_SPAN_CONTEXT))) return;
    quietly(
      "ending a span",
      () => {
        span.real.setAttribute(attr.refused, true);
        span.real.end();
      },
      undefined,
    );
  }
}

// What an abandoned operation's span records: it neither completed nor failed where this layer saw it.
const abandoned = new Error("the run went on without this operation, which had not settled: a layer outside the instrumentation gave up on it");
