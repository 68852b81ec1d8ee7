// Shared measuring for the bench files: interleaved rounds and robust summaries, so that every
// ratio compares sides measured under the same machine load.

/** One side of a comparison: `run()` does `units` units of work (operations, steps, writes). */
export interface Side {
  readonly run: () => Promise<unknown>;
  readonly units: number;
}

export interface MeasureOptions {
  /** Units of work per sample; a sample repeats `run()` until it reaches this. @default 50_000 */
  readonly unitsPerSample?: number;
  /** @default 3 */
  readonly warmupRounds?: number;
  /** @default 11 */
  readonly rounds?: number;
}

export interface Summary {
  /** Median nanoseconds per unit. */
  readonly median: number;
  /** Half the interquartile range, relative to the median. */
  readonly spread: number;
}

/** Nanoseconds per unit over `repeats` sequential runs. */
async function sample(side: Side, repeats: number): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < repeats; i++) await side.run();
  return Number(process.hrtime.bigint() - started) / (repeats * side.units);
}

function quantile(sorted: readonly number[], q: number): number {
  const position = (sorted.length - 1) * q;
  const low = sorted[Math.floor(position)] ?? Number.NaN;
  const high = sorted[Math.ceil(position)] ?? Number.NaN;
  return low + (high - low) * (position - Math.floor(position));
}

export function summarise(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const median = quantile(sorted, 0.5);
  return { median, spread: (quantile(sorted, 0.75) - quantile(sorted, 0.25)) / 2 / median };
}

/**
 * Measures every side of every case in each round, rotating the order of cases and of sides, so
 * drift in the machine's speed (JIT, GC, clock, neighbours) is shared by all cells instead of
 * favouring whichever was measured in a fast moment. Resolves with every sample (ns per unit), in
 * round order, per case and side: the sides of one case are measured one after the other in each
 * round, so `samples[side][round]` of two sides pair up (see `pairedMedian`).
 */
export async function measureSamples<K extends string>(
  cases: readonly Readonly<Record<K, Side>>[],
  options: MeasureOptions = {},
): Promise<Record<K, number[]>[]> {
  const { unitsPerSample = 50_000, warmupRounds = 3, rounds = 11 } = options;
  const samples = cases.map((sides) => Object.fromEntries(Object.keys(sides).map((key) => [key, [] as number[]])) as Record<K, number[]>);
  for (let round = 0; round < warmupRounds + rounds; round++) {
    for (let j = 0; j < cases.length; j++) {
      const index = (j + round) % cases.length;
      const sides = cases[index] as Record<K, Side>;
      const keys = Object.keys(sides) as K[];
      if (round % 2 === 1) keys.reverse();
      for (const key of keys) {
        const side = sides[key];
        const nsPerUnit = await sample(side, Math.max(1, Math.round(unitsPerSample / side.units)));
        if (round >= warmupRounds) (samples[index] as Record<K, number[]>)[key].push(nsPerUnit);
      }
    }
  }
  return samples;
}

/** `measureSamples`, summarised: a median and a spread per case and side. */
export async function measureInterleaved<K extends string>(
  cases: readonly Readonly<Record<K, Side>>[],
  options: MeasureOptions = {},
): Promise<Record<K, Summary>[]> {
  const samples = await measureSamples(cases, options);
  return samples.map((bySide) => Object.fromEntries(Object.entries(bySide).map(([key, values]) => [key, summarise(values as number[])])) as Record<K, Summary>);
}

/**
 * The median over rounds of `of(at)`, where `at(side)` is that side's sample of the round: a ratio
 * of sides measured moments apart, so a slow stretch of the machine moves both of its terms.
 */
export function pairedMedian<K extends string>(samples: Readonly<Record<K, readonly number[]>>, of: (at: (side: K) => number) => number): Summary {
  const rounds = Math.min(...Object.values<readonly number[]>(samples).map((values) => values.length));
  return summarise(Array.from({ length: rounds }, (_, round) => of((side) => samples[side][round] ?? Number.NaN)));
}

export const verdict = (holds: boolean): string => (holds ? "holds" : "MISSED");
export const ratio = (value: number): string => `${value.toFixed(2)}×`;
