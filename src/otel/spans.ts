import { SpanStatusCode, type Span } from "@opentelemetry/api";
import { attr } from "./attributes.js";

/** Epoch milliseconds with sub-millisecond precision, the time input every span here gets. */
export const now = (): number => performance.timeOrigin + performance.now();

/** The `exception` event, an error status and `error.type`, as the conventions ask. */
export function recordError(span: Span, error: unknown, type: string): void {
  if (!span.isRecording()) return;
  span.setAttribute(attr.errorType, type);
  if (error instanceof Error) span.recordException(error);
  else span.recordException(String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}
