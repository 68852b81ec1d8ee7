import { createNoopMeter, metrics, type Counter, type Histogram, type Meter, type MeterProvider } from "@opentelemetry/api";
import { quietly } from "./spans.js";

/** The instruments every instrumented run reports to. Names and units are listed in docs/otel.md. */
export interface Instruments {
  /** False for the API's no-op meter: the hot path then skips even reading the clock. */
  readonly live: boolean;
  readonly runsStarted: Counter;
  readonly runsCompleted: Counter;
  readonly runsFailed: Counter;
  readonly runsSuspended: Counter;
  readonly runsResumed: Counter;
  readonly operationDuration: Histogram;
  readonly checkpointDuration: Histogram;
  readonly claimsLost: Counter;
  readonly deadLetters: Counter;
}

// Buckets for durations in seconds, from a millisecond step to a minute-long one.
const buckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

// An instrument whose SDK throws never breaks the run it measures.
const safeCounter = (counter: Counter): Counter => ({ add: (value, attributes) => quietly("a counter", () => counter.add(value, attributes), undefined) });
const safeHistogram = (histogram: Histogram): Histogram => ({ record: (value, attributes) => quietly("a histogram", () => histogram.record(value, attributes), undefined) });

function instrumentsOf(meter: Meter): Instruments {
  const counter = (name: string, description: string, unit = "{run}"): Counter => safeCounter(meter.createCounter(name, { description, unit }));
  const histogram = (name: string, description: string): Histogram =>
    safeHistogram(meter.createHistogram(name, { description, unit: "s", advice: { explicitBucketBoundaries: buckets } }));
  return {
    live: meter !== createNoopMeter(),
    runsStarted: counter("workflowforge.run.started", "Runs started, resumed ones included"),
    runsCompleted: counter("workflowforge.run.completed", "Runs that completed every operation"),
    runsFailed: counter("workflowforge.run.failed", "Runs that ended with an error"),
    runsSuspended: counter("workflowforge.run.suspended", "Runs that stopped at a durable wait, to be resumed when it ends"),
    runsResumed: counter("workflowforge.run.resumed", "Runs that continued an instance from a stored snapshot"),
    operationDuration: histogram("workflowforge.operation.duration", "Time an operation took, the middleware inside the instrumentation included"),
    checkpointDuration: histogram("workflowforge.checkpoint.duration", "Time from an operation's completion to its checkpoint being stored"),
    claimsLost: counter("workflowforge.claim.lost", "Runs stopped because another worker took their instance over", "{claim}"),
    deadLetters: counter("workflowforge.dead_letter.stored", "Instances stored as dead letters after their last attempt", "{instance}"),
  };
}

/**
 * The instruments of the configured meter provider (or the global one, looked up again on each
 * run so that an SDK registered after `instrument()` is still used), made once per provider.
 */
export class MeterSource {
  readonly #fixed: MeterProvider | undefined;
  readonly #name: string;
  readonly #version: string | undefined;
  #provider: MeterProvider | undefined;
  #instruments: Instruments | undefined;

  constructor(provider: MeterProvider | undefined, name: string, version: string | undefined) {
    this.#fixed = provider;
    this.#name = name;
    this.#version = version;
  }

  get(): Instruments {
    const provider = this.#fixed ?? metrics.getMeterProvider();
    if (this.#instruments === undefined || provider !== this.#provider) {
      this.#provider = provider;
      this.#instruments = quietly("getMeter", () => instrumentsOf(provider.getMeter(this.#name, this.#version)), undefined) ?? instrumentsOf(createNoopMeter());
    }
    return this.#instruments;
  }
}
