import { ProxyTracerProvider, trace, type MeterProvider, type Tracer, type TracerProvider } from "@opentelemetry/api";
import { describe, rejectUnknownKeys, requireOptionsObject } from "../internal/validate.js";
import { MeterSource } from "./metrics.js";
import { quietly } from "./spans.js";

/** Where `instrument` reports: both default to the global providers, so registering an SDK later still counts. */
export interface TelemetryOptions {
  /** Where spans go. @default the global tracer provider (`trace.getTracerProvider()`), looked up on each run */
  readonly tracerProvider?: TracerProvider | undefined;
  /** Where metrics go. @default the global meter provider (`metrics.getMeterProvider()`), looked up on each run */
  readonly meterProvider?: MeterProvider | undefined;
}

/** The instrumentation scope every span and instrument is reported under. */
export const scopeName = "workflowforge";

// The delegate of a proxy no SDK was registered with: the API's no-op tracer provider.
const noopTracerProvider = new ProxyTracerProvider().getDelegate();

/** The tracer of a run whose spans can only be no-ops (metrics only). */
export const noopTracer: Tracer = noopTracerProvider.getTracer(scopeName);

/** What every instrumented foundry and smith of one `instrument()` call shares. */
export class Telemetry {
  readonly meters: MeterSource;
  readonly #fixed: TracerProvider | undefined;
  #provider: TracerProvider | undefined;
  #tracer: Tracer | undefined;

  constructor(options: TelemetryOptions) {
    this.#fixed = options.tracerProvider;
    this.meters = new MeterSource(options.meterProvider, scopeName, undefined);
  }

  /**
   * The tracer a run reports to, or undefined while spans can only be no-ops (no SDK registered):
   * runs then skip everything but metrics. The global provider is looked up on each run, as meters
   * are: `trace.disable()` replaces it, and a tracer of the one before would still reach the old SDK.
   */
  tracerForRun(): Tracer | undefined {
    const provider = this.#fixed ?? trace.getTracerProvider();
    if (provider instanceof ProxyTracerProvider && provider.getDelegate() === noopTracerProvider) return undefined;
    if (provider !== this.#provider) {
      this.#provider = provider;
      this.#tracer = quietly("getTracer", () => provider.getTracer(scopeName), undefined);
    }
    return this.#tracer;
  }
}

// What every `instrument(target)` without providers shares: both are looked up globally anyway.
let globalTelemetry: Telemetry | undefined;

export function resolveTelemetry(options: unknown, where: string): Telemetry {
  if (options === undefined) return (globalTelemetry ??= new Telemetry({}));
  const bag = requireOptionsObject(options, where) as TelemetryOptions;
  rejectUnknownKeys(bag, ["tracerProvider", "meterProvider"], where);
  if (bag.tracerProvider === undefined && bag.meterProvider === undefined) return (globalTelemetry ??= new Telemetry({}));
  if (bag.tracerProvider !== undefined && typeof (bag.tracerProvider as Partial<TracerProvider> | null)?.getTracer !== "function") {
    throw new TypeError(`${where}: options.tracerProvider must have getTracer(), got ${describe(bag.tracerProvider)}`);
  }
  if (bag.meterProvider !== undefined && typeof (bag.meterProvider as Partial<MeterProvider> | null)?.getMeter !== "function") {
    throw new TypeError(`${where}: options.meterProvider must have getMeter(), got ${describe(bag.meterProvider)}`);
  }
  return new Telemetry(bag);
}
