import { createFoundry, type OperationMiddleware } from "../dist/index.js";
import type { BenchSection } from "./report.js";

// Engine overhead per operation: foundry.forge() over N operations with two no-op middleware,
// against a bare loop that awaits the same functions. Both are measured in the same run and
// compared as differences and ratios; no absolute time is a pass/fail criterion.

const sizes = [10, 100, 10_000];
const operationsPerSample = 50_000;
const warmupRounds = 3;
const rounds = 11;
const overheadTargetNs = 500;
const flatTarget = 1.5;

// Not `async`: require-await rejects an async function without `await`. Both sides await this
// same promise-returning function, so the baseline pays for exactly the operations' own work.
const step = (input: number): Promise<number> => Promise.resolve(input + 1);
const passThrough: OperationMiddleware = async (_context, next) => next();

interface Case {
  readonly size: number;
  readonly runs: number;
  readonly engine: () => Promise<number>;
  readonly baseline: () => Promise<number>;
  readonly samples: { readonly engine: number[]; readonly baseline: number[] };
}

function createCase(size: number): Case {
  const steps = Array.from({ length: size }, () => step);
  const foundry = createFoundry("EngineBench").use(passThrough).use(passThrough);
  steps.forEach((forge, index) => foundry.withOperation(`step-${index}`, forge));
  const baseline = async (): Promise<number> => {
    let value = 0;
    for (const forge of steps) value = await forge(value);
    return value;
  };
  const engine = (): Promise<number> => foundry.forge<number>({ input: 0 });
  const runs = Math.max(1, Math.round(operationsPerSample / size));
  return { size, runs, engine, baseline, samples: { engine: [], baseline: [] } };
}

/** Nanoseconds per operation over `runs` sequential runs of `size` operations. */
async function sample(run: () => Promise<number>, runs: number, size: number): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) await run();
  return Number(process.hrtime.bigint() - started) / (runs * size);
}

function quantile(sorted: readonly number[], q: number): number {
  const position = (sorted.length - 1) * q;
  const low = sorted[Math.floor(position)] ?? Number.NaN;
  const high = sorted[Math.ceil(position)] ?? Number.NaN;
  return low + (high - low) * (position - Math.floor(position));
}

/** The median, and half the interquartile range relative to it. */
function summarise(values: readonly number[]): { median: number; spread: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const median = quantile(sorted, 0.5);
  return { median, spread: (quantile(sorted, 0.75) - quantile(sorted, 0.25)) / 2 / median };
}

// Every round samples every case, rotating the case order and alternating which side goes first,
// so drift in the machine's speed (JIT, GC, CPU clock, neighbours) is shared by all cells instead
// of favouring whichever was measured in a fast moment.
async function measure(cases: readonly Case[]): Promise<void> {
  for (const { size, engine, baseline } of cases) {
    for (const output of [await engine(), await baseline()]) {
      if (output !== size) throw new Error(`a run of ${size} operations returned ${output}, expected ${size}`);
    }
  }
  for (let round = 0; round < warmupRounds + rounds; round++) {
    for (let j = 0; j < cases.length; j++) {
      const { size, runs, engine, baseline, samples } = cases[(j + round) % cases.length] as Case;
      const order = round % 2 === 0 ? (["baseline", "engine"] as const) : (["engine", "baseline"] as const);
      for (const side of order) {
        const nsPerOp = await sample(side === "engine" ? engine : baseline, runs, size);
        if (round >= warmupRounds) samples[side].push(nsPerOp);
      }
    }
  }
}

export async function run(): Promise<BenchSection> {
  const cases = sizes.map(createCase);
  await measure(cases);
  const engineNs = new Map<number, number>();
  let worstOverhead = 0;
  const rows = cases.map(({ size, samples }) => {
    const engine = summarise(samples.engine);
    const baseline = summarise(samples.baseline).median;
    const overhead = engine.median - baseline;
    worstOverhead = Math.max(worstOverhead, overhead);
    engineNs.set(size, engine.median);
    return {
      operations: size,
      "baseline ns/op": Math.round(baseline),
      "engine ns/op": Math.round(engine.median),
      "engine spread": `±${(engine.spread * 100).toFixed(1)}%`,
      "overhead ns/op": Math.round(overhead),
      ratio: `${(engine.median / baseline).toFixed(2)}×`,
      [`overhead < ${overheadTargetNs} ns`]: overhead < overheadTargetNs ? "yes" : "NO",
    };
  });
  const flat = (engineNs.get(10_000) ?? Number.NaN) / (engineNs.get(100) ?? Number.NaN);
  const verdict = (holds: boolean): string => (holds ? "holds" : "MISSED");
  return {
    title: "Engine overhead per operation (two no-op middleware)",
    rows,
    notes: [
      `Target: overhead under ${overheadTargetNs} ns/op with two middleware, at every size: ${verdict(worstOverhead < overheadTargetNs)} (worst ${Math.round(worstOverhead)} ns/op).`,
      `Target: flat, engine ns/op at 10,000 operations within ${flatTarget}× of the cost at 100: ${verdict(flat <= flatTarget)} (${flat.toFixed(2)}×).`,
      "Baseline: a bare loop awaiting the same functions. Engine: `foundry.forge()` with two `async (ctx, next) => next()` operation middleware.",
      `Each cell is the median of ${rounds} samples of about ${operationsPerSample.toLocaleString("en-US")} operations, after ${warmupRounds} warm-up rounds; spread is half the interquartile range.`,
    ],
  };
}
