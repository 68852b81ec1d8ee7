import { MeterProvider, MetricReader, type DataPoint, type Histogram } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type Span, type SpanProcessor } from "@opentelemetry/sdk-trace-base";

// The OpenTelemetry SDK wired to memory: every span as it ends, every metric on demand.

class OnDemandReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface Harness {
  readonly tracerProvider: BasicTracerProvider;
  readonly meterProvider: MeterProvider;
  /** The options of `instrument()` that report here. */
  readonly options: { readonly tracerProvider: BasicTracerProvider; readonly meterProvider: MeterProvider };
  /** Every span ended so far, in the order they ended. */
  spans(): ReadableSpan[];
  /** The spans named `name`, in the order they ended. */
  named(name: string): ReadableSpan[];
  /** The names of the spans started and not ended yet: a span processor sees their start, never their end. */
  unended(): string[];
  /** The sum of counter `name` over its data points whose attributes include `where`. */
  counter(name: string, where?: Record<string, unknown>): Promise<number>;
  /** How many values histogram `name` recorded over its data points whose attributes include `where`. */
  histogramCount(name: string, where?: Record<string, unknown>): Promise<number>;
}

export function createHarness(): Harness {
  const exporter = new InMemorySpanExporter();
  const open = new Set<Span>();
  const tracker: SpanProcessor = {
    onStart: (span) => void open.add(span),
    onEnd: (span) => void open.delete(span as Span),
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [tracker, new SimpleSpanProcessor(exporter)] });
  const reader = new OnDemandReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const points = async (name: string, where: Record<string, unknown>): Promise<DataPoint<unknown>[]> => {
    const { resourceMetrics } = await reader.collect();
    const metric = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((candidate) => candidate.descriptor.name === name);
    const all = (metric?.dataPoints ?? []) as DataPoint<unknown>[];
    return all.filter((point) => Object.entries(where).every(([key, value]) => point.attributes[key] === value));
  };
  return {
    tracerProvider,
    meterProvider,
    options: { tracerProvider, meterProvider },
    spans: () => exporter.getFinishedSpans(),
    named: (name) => exporter.getFinishedSpans().filter((span) => span.name === name),
    unended: () => [...open].map((span) => span.name),
    counter: async (name, where = {}) => (await points(name, where)).reduce((sum, point) => sum + (point.value as number), 0),
    histogramCount: async (name, where = {}) => (await points(name, where)).reduce((sum, point) => sum + (point.value as Histogram).count, 0),
  };
}

/** The span's parent span id, whatever the SDK version calls it. */
export function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}
