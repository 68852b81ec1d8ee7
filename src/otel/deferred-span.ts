import type { Exception, Link, Span, SpanAttributes, SpanAttributeValue, SpanContext, SpanStatus, TimeInput } from "@opentelemetry/api";

/**
 * A span that starts at its first use. It stands in the context the layers inside the
 * instrumentation run in, so that an operation's span is the parent of what runs inside it, yet
 * starts only when the operation does: span processors never see a span for an operation a layer
 * refused to start, which would never end. Anything that reads it first (a span your database
 * instrumentation starts under it in a layer's provider call) starts it then.
 */
export class DeferredSpan implements Span {
  readonly #start: () => Span;
  #span: Span | undefined;

  constructor(start: () => Span) {
    this.#start = start;
  }

  /** The span, started now if it had not started. */
  get real(): Span {
    this.#span ??= this.#start();
    return this.#span;
  }

  /** Whether the span started. */
  get started(): boolean {
    return this.#span !== undefined;
  }

  /** From now on stands for `instead` when it has not started, and starts nothing: returns whether it had started. */
  withhold(instead: Span): boolean {
    if (this.#span !== undefined) return true;
    this.#span = instead;
    return false;
  }

  spanContext(): SpanContext {
    return this.real.spanContext();
  }

  setAttribute(key: string, value: SpanAttributeValue): this {
    this.real.setAttribute(key, value);
    return this;
  }

  setAttributes(attributes: SpanAttributes): this {
    this.real.setAttributes(attributes);
    return this;
  }

  addEvent(name: string, attributesOrStartTime?: SpanAttributes | TimeInput, startTime?: TimeInput): this {
    this.real.addEvent(name, attributesOrStartTime, startTime);
    return this;
  }

  addLink(link: Link): this {
    this.real.addLink(link);
    return this;
  }

  addLinks(links: Link[]): this {
    this.real.addLinks(links);
    return this;
  }

  setStatus(status: SpanStatus): this {
    this.real.setStatus(status);
    return this;
  }

  updateName(name: string): this {
    this.real.updateName(name);
    return this;
  }

  end(endTime?: TimeInput): void {
    this.real.end(endTime);
  }

  isRecording(): boolean {
    return this.real.isRecording();
  }

  recordException(exception: Exception, time?: TimeInput): void {
    this.real.recordException(exception, time);
  }
}
