import { BasicTracerProvider, NoopSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { createFoundry, type OperationMiddleware } from "../dist/index.js";
import { instrument } from "../dist/otel/index.js";
import { MemoryPersistenceProvider, usePersistence } from "../dist/persistence/index.js";
import { measureSamples, pairedMedian, ratio, summarise, verdict, type Side } from "./measure.js";
import type { BenchSection } from "./report.js";

// Per-step cost of workflowforge/otel: the same foundry with and without `instrument()`, measured
// in the same run. No SDK is registered, so the API hands out its no-op tracer and meter: the cost
// users pay for instrumenting before (or without) configuring OpenTelemetry. A third side records
// every span with the SDK (dropped by a no-op processor), for scale.

const sizes = [10, 100];
const target = 1.2;
const step = (input: number): Promise<number> => Promise.resolve(input + 1);
const provider = new MemoryPersistenceProvider({ live: true });
const recording = new BasicTracerProvider({ spanProcessors: [new NoopSpanProcessor()] });

type Mode = "plain" | "layer" | "noop" | "sdk";
const passThrough: OperationMiddleware = (_context, next) => next();

function side(size: number, persisted: boolean, mode: Mode): Side {
  let run = 0;
  return {
    units: size,
    run: () => {
      const foundry = createFoundry("OtelBench");
      for (let i = 0; i < size; i++) foundry.withOperation(`step-${i}`, step);
      if (persisted) usePersistence(foundry, provider, { instanceId: `otel-${run++}` });
      if (mode === "layer") foundry.use(passThrough);
      if (mode === "noop") instrument(foundry);
      if (mode === "sdk") instrument(foundry, { tracerProvider: recording });
      return foundry.forge<number>({ input: 0 });
    },
  };
}

export async function run(): Promise<BenchSection> {
  const rows: Record<string, string | number>[] = [];
  const notes: string[] = [];
  for (const persisted of [false, true]) {
    let worst = 0;
    let worstLayer = 0;
    const cases = sizes.map((size) => ({
      plain: side(size, persisted, "plain"),
      layer: side(size, persisted, "layer"),
      noop: side(size, persisted, "noop"),
      sdk: side(size, persisted, "sdk"),
    }));
    const samples = await measureSamples(cases, { rounds: 21 });
    samples.forEach((bySide, i) => {
      const noopRatio = pairedMedian(bySide, (at) => at("noop") / at("plain"));
      const sdkRatio = pairedMedian(bySide, (at) => at("sdk") / at("plain"));
      const layerRatio = pairedMedian(bySide, (at) => at("layer") / at("plain"));
      worst = Math.max(worst, noopRatio.median);
      worstLayer = Math.max(worstLayer, layerRatio.median);
      rows.push({
        foundry: persisted ? "with usePersistence (memory)" : "bare",
        steps: sizes[i] as number,
        "uninstrumented ns/step": Math.round(summarise(bySide.plain).median),
        "instrumented, no SDK ns/step": Math.round(summarise(bySide.noop).median),
        ratio: ratio(noopRatio.median),
        "ratio spread": `±${(noopRatio.spread * 100).toFixed(1)}%`,
        "one no-op middleware ratio": ratio(layerRatio.median),
        "SDK recording ns/step": Math.round(summarise(bySide.sdk).median),
        "SDK ratio": ratio(sdkRatio.median),
      });
    });
    const scope = persisted ? "with usePersistence" : "bare foundry";
    notes.push(
      `Target (${scope}): instrumented per-step cost with no SDK registered within ${target}× of uninstrumented, at every size: ${verdict(worst <= target)} (worst ${ratio(worst)}, one no-op middleware ${ratio(worstLayer)}).`,
    );
  }
  if (provider.size !== 0) throw new Error(`${provider.size} snapshots were left behind`);
  notes.push("No SDK: `instrument(foundry)` with the API's global no-op tracer and meter. One no-op middleware: `foundry.use((context, next) => next())` instead, the engine's own price for any layer. SDK recording: `BasicTracerProvider` with a `NoopSpanProcessor`, so spans are built but not exported; metrics stay no-op.");
  notes.push("Ratios are medians over 21 rounds of the per-round ratio of sides measured one after the other; each sample is about 50,000 steps after 3 warm-up rounds. The foundry is created inside every side.");
  return { title: "OpenTelemetry instrumentation overhead per step", rows, notes, against: "the same foundry without `instrument()`" };
}
