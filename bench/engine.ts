import { createFoundry, type OperationMiddleware } from "../dist/index.js";
import { measureInterleaved, ratio, verdict } from "./measure.js";
import type { BenchSection } from "./report.js";

// Engine overhead per operation: foundry.forge() over N operations with two no-op middleware,
// against a bare loop that awaits the same functions. Both are measured in the same run and
// compared as differences and ratios; no absolute time is a pass/fail criterion.

const sizes = [10, 100, 10_000];
const overheadTargetNs = 500;
const flatTarget = 1.5;

// Not `async`: require-await rejects an async function without `await`. Both sides await this
// same promise-returning function, so the baseline pays for exactly the operations' own work.
const step = (input: number): Promise<number> => Promise.resolve(input + 1);
const passThrough: OperationMiddleware = async (_context, next) => next();

function createCase(size: number) {
  const steps = Array.from({ length: size }, () => step);
  const foundry = createFoundry("EngineBench").use(passThrough).use(passThrough);
  steps.forEach((forge, index) => foundry.withOperation(`step-${index}`, forge));
  const baseline = async (): Promise<number> => {
    let value = 0;
    for (const forge of steps) value = await forge(value);
    return value;
  };
  const engine = (): Promise<number> => foundry.forge<number>({ input: 0 });
  return { baseline: { run: baseline, units: size }, engine: { run: engine, units: size } };
}

export async function run(): Promise<BenchSection> {
  const cases = sizes.map(createCase);
  for (const [i, { engine, baseline }] of cases.entries()) {
    for (const output of [await engine.run(), await baseline.run()]) {
      if (output !== sizes[i]) throw new Error(`a run of ${sizes[i]} operations returned ${output}`);
    }
  }
  const results = await measureInterleaved(cases);
  let worstOverhead = 0;
  const rows = results.map(({ engine, baseline }, i) => {
    const overhead = engine.median - baseline.median;
    worstOverhead = Math.max(worstOverhead, overhead);
    return {
      operations: sizes[i] as number,
      "baseline ns/op": Math.round(baseline.median),
      "engine ns/op": Math.round(engine.median),
      "engine spread": `±${(engine.spread * 100).toFixed(1)}%`,
      "overhead ns/op": Math.round(overhead),
      ratio: ratio(engine.median / baseline.median),
    };
  });
  const flat = (results[2]?.engine.median ?? Number.NaN) / (results[1]?.engine.median ?? Number.NaN);
  return {
    title: "Engine overhead per operation (two no-op middleware)",
    rows,
    notes: [
      `Target: overhead under ${overheadTargetNs} ns/op with two middleware, at every size: ${verdict(worstOverhead < overheadTargetNs)} (worst ${Math.round(worstOverhead)} ns/op).`,
      `Target: flat, engine ns/op at 10,000 operations within ${flatTarget}× of the cost at 100: ${verdict(flat <= flatTarget)} (${ratio(flat)}).`,
      "Baseline: a bare loop awaiting the same functions. Engine: `foundry.forge()` with two `async (ctx, next) => next()` operation middleware.",
      "Each cell is the median of 11 samples of about 50,000 operations after 3 warm-up rounds, all cases interleaved; spread is half the interquartile range.",
    ],
  };
}
