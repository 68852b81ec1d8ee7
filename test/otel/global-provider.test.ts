import { trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { createFoundry } from "../../src/index.js";
import { instrument } from "../../src/otel/index.js";

// These tests register global providers: unit test files share modules, so each one is undone.
afterEach(() => {
  trace.disable();
});

function register(): InMemorySpanExporter {
  const exporter = new InMemorySpanExporter();
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  return exporter;
}

describe("instrument() without a tracerProvider", () => {
  it("reports to the SDK registered when a run starts, not to one registered before trace.disable()", async () => {
    const before = register();
    const foundry = instrument(createFoundry("Global")).withOperation("a", () => 1);
    await foundry.forge();
    expect(before.getFinishedSpans()).toHaveLength(2);
    trace.disable();
    const now = register();
    before.reset();
    await foundry.forge();
    expect({ before: before.getFinishedSpans().length, now: now.getFinishedSpans().length }).toEqual({ before: 0, now: 2 });
  });

  it("records nothing once trace.disable() left no SDK registered", async () => {
    const before = register();
    const foundry = instrument(createFoundry("Disabled")).withOperation("a", () => 1);
    await foundry.forge();
    expect(before.getFinishedSpans()).toHaveLength(2);
    trace.disable();
    before.reset();
    await foundry.forge();
    expect(before.getFinishedSpans()).toEqual([]);
  });
});
