import { INVALID_SPAN_CONTEXT, type Meter, type MeterProvider, type Span, type TracerProvider } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { createFoundry, createSmith, createWorkflow } from "../../src/index.js";
import { instrument } from "../../src/otel/index.js";
import { MemoryPersistenceProvider, usePersistence } from "../../src/persistence/index.js";

// Instrumentation never throws into the run it reports on: an SDK that throws (a broken exporter
// setup, a bug) costs the run its telemetry, never its outcome, and never a restore.

const broken = (what: string) => () => {
  throw new Error(`sdk broken: ${what}`);
};

/** A span every method of which throws, but for the two the API needs to tell a span from none. */
function throwingSpan(): Span {
  const span = { spanContext: () => INVALID_SPAN_CONTEXT, isRecording: () => true } as Partial<Span>;
  for (const method of ["setAttribute", "setAttributes", "addEvent", "addLink", "addLinks", "setStatus", "updateName", "end", "recordException"] as const) span[method] = broken(method);
  return span as Span;
}

const tracers: Record<string, TracerProvider> = {
  "startSpan throws": { getTracer: () => ({ startSpan: broken("startSpan"), startActiveSpan: broken("startActiveSpan") }) },
  "every span method throws": { getTracer: () => ({ startSpan: throwingSpan, startActiveSpan: broken("startActiveSpan") }) },
};
const meterProvider: MeterProvider = {
  getMeter: () => ({ createCounter: () => ({ add: broken("add") }), createHistogram: () => ({ record: broken("record") }) }) as unknown as Meter,
};

function trip(restored: string[], fail: boolean) {
  return createWorkflow("Trip")
    .withOperation("flight", () => "F1", () => void restored.push("flight"))
    .withOperation("hotel", () => {
      if (fail) throw new Error("no rooms");
      return "H1";
    })
    .build();
}

describe.each(Object.keys(tracers))("an OpenTelemetry SDK where %s, and whose instruments throw", (name) => {
  const options = { tracerProvider: tracers[name] as TracerProvider, meterProvider };

  it("lets a run complete, persisted, under a smith and on a bare foundry", async () => {
    const smith = instrument(createSmith(), options);
    const persisted = usePersistence(createFoundry("Trips"), new MemoryPersistenceProvider(), { instanceId: "t-1", lease: { ttlMs: 30_000 } });
    await expect(smith.forge(trip([], false), persisted)).resolves.toBe("H1");
    const bare = instrument(createFoundry("Trips"), options).withOperation("a", () => "done");
    await expect(bare.forge()).resolves.toBe("done");
  });

  it("lets a failed run compensate, every restore run, and reject with its own error", async () => {
    const restored: string[] = [];
    const smith = instrument(createSmith(), options);
    await expect(smith.forge(trip(restored, true), createFoundry("Trips"))).rejects.toMatchObject({ code: "OPERATION_FAILED", cause: { message: "no rooms" } });
    expect(restored).toEqual(["flight"]);
  });
});
