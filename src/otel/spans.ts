import { diag, INVALID_SPAN_CONTEXT, SpanStatusCode, trace, type Context, type Span, type SpanOptions, type Tracer } from "@opentelemetry/api";
import { isError, messageOf } from "../internal/thrown.js";
import { attr } from "./attributes.js";

/** Epoch milliseconds with sub-millisecond precision, the time input every span here gets. */
export const now = (): number => performance.timeOrigin + performance.now();

/** The `exception` event, an error status and `error.type`, as the conventions ask. */
export function recordError(span: Span, error: unknown, type: string): void {
  if (!span.isRecording()) return;
  span.setAttribute(attr.errorType, type);
  const readable = isError(error);
  if (readable) span.recordException(error);
  else span.recordException(textOf(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: readable ? messageOf(error) : textOf(error) });
}

/** Records `failure` (when there is one) on `span`, which ends whatever recording it throws. */
export function endWith(span: Span, failure: { readonly error: unknown; readonly type: string } | undefined): void {
  try {
    if (failure !== undefined) recordError(span, failure.error, failure.type);
  } finally {
    span.end();
  }
}

// What was thrown, as text: `String()` throws for a null-prototype object (it has no `toString`) or
// one whose `toString` throws, and a span must not stay open because of what an operation threw.
function textOf(value: unknown): string {
  try {
    return String(value);
  } catch {
    // Fall through to the tag, which only a hostile proxy can make throw.
  }
  try {
    return Object.prototype.toString.call(value);
  } catch {
    return "(a value that cannot be converted to text)";
  }
}

/**
 * Runs `report` (calls into the OpenTelemetry SDK) so that an SDK that throws never breaks the run
 * it reports on: the error goes to OpenTelemetry's own diagnostic logger, as instrumentations do.
 */
export function quietly<T>(what: string, report: () => T, instead: T): T {
  try {
    return report();
  } catch (error) {
    diag.warn(`workflowforge/otel: ${what} threw`, error);
    return instead;
  }
}

/** `telemetry.tracer.startSpan(...)`, or a span that records nothing when the SDK throws. */
export function startSpan(telemetry: { readonly tracer: Tracer }, name: string, options: SpanOptions, context: Context): Span {
  try {
    return telemetry.tracer.startSpan(name, options, context);
  } catch (error) {
    diag.warn(`workflowforge/otel: starting the span "${name}" threw`, error);
    return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
  }
}
