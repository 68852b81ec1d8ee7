import { createTraceState, isSpanContextValid, type SpanContext } from "@opentelemetry/api";

// The W3C Trace Context header format (https://www.w3.org/TR/trace-context/), written here rather
// than through the global propagator: that one is a no-op until an SDK registers one, and a run's
// stored context must read back the same in every process, whatever propagator each configures.

const pattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** `00-<trace-id>-<span-id>-<flags>`, or undefined for an invalid context. */
export function formatTraceparent(context: SpanContext): string | undefined {
  if (!isSpanContextValid(context)) return undefined;
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/** The remote span context a stored `traceparent` (and `tracestate`) names, or undefined when malformed. */
export function parseTraceparent(traceparent: string | undefined, tracestate?: string): SpanContext | undefined {
  const match = traceparent === undefined ? null : pattern.exec(traceparent);
  if (match === null) return undefined;
  const [, traceId = "", spanId = "", flags = "00"] = match;
  const context: SpanContext = { traceId, spanId, traceFlags: Number.parseInt(flags, 16), isRemote: true };
  if (tracestate !== undefined && tracestate !== "") context.traceState = createTraceState(tracestate);
  return isSpanContextValid(context) ? context : undefined;
}
