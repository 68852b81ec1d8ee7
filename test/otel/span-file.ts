import { appendFileSync, readFileSync } from "node:fs";
import type { ReadableSpan, Span, SpanProcessor } from "@opentelemetry/sdk-trace-base";

/** One line of a span file: a span as it started, or as it ended. */
export interface SpanRecord {
  readonly phase: "start" | "end";
  readonly pid: number;
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly attributes: Record<string, unknown>;
  readonly events: readonly { readonly name: string; readonly attributes: Record<string, unknown> }[];
  readonly status: number;
}

const recordOf = (phase: SpanRecord["phase"], span: ReadableSpan): SpanRecord => ({
  phase,
  pid: process.pid,
  name: span.name,
  traceId: span.spanContext().traceId,
  spanId: span.spanContext().spanId,
  parentSpanId: span.parentSpanContext?.spanId,
  attributes: { ...span.attributes },
  events: span.events.map((event) => ({ name: event.name, attributes: { ...event.attributes } })),
  status: span.status.code,
});

/**
 * Appends every span to `file` as a JSON line when it starts and when it ends, synchronously: a
 * process killed with SIGKILL leaves behind the spans it started, which an exporter never sees.
 */
export class SpanFileProcessor implements SpanProcessor {
  constructor(readonly file: string) {}

  onStart(span: Span): void {
    appendFileSync(this.file, `${JSON.stringify(recordOf("start", span))}\n`);
  }

  onEnd(span: ReadableSpan): void {
    appendFileSync(this.file, `${JSON.stringify(recordOf("end", span))}\n`);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export function readSpanFile(file: string): SpanRecord[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as SpanRecord);
}
