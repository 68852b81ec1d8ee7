import { createFoundry } from "../dist/index.js";
import { MemoryPersistenceProvider, usePersistence } from "../dist/persistence/index.js";
import { measureInterleaved, ratio, verdict, type Side } from "./measure.js";
import type { BenchSection } from "./report.js";

// Per-step cost of persistence with the memory provider: the same workflow with and without
// usePersistence, measured in the same run. Overhead per step = difference / steps. The provider
// keeps live copies ({ live: true }) so that the figure is the engine's own overhead; encoding,
// which the default memory provider and every durable store add, is measured by the codec bench.

const sizes = [10, 100, 10_000];
const overheadTargetNs = 3_000;
const flatTarget = 1.5;

type Bag = Record<string, unknown>;

const bags: Record<string, () => Bag> = {
  "10 keys": () => ({ orderId: "A-1", customer: "ada", total: 99.5, currency: "EUR", paid: false, items: 3, note: "gift", retries: 0, region: "eu", priority: 2 }),
  // 100 KB of ordinary data: 500 line items of about 200 bytes each.
  "100 KB": () => ({
    orderId: "A-1",
    lines: Array.from({ length: 500 }, (_, i) => ({ sku: `SKU-${i}`, title: `Item number ${i} `.padEnd(120, "."), qty: i % 7, price: i * 1.25 })),
  }),
};

const step = (input: number): Promise<number> => Promise.resolve(input + 1);

function workflow(size: number, bag: () => Bag, persisted: boolean): Side {
  let run = 0;
  return {
    units: size,
    run: () => {
      const foundry = createFoundry("PersistenceBench", { properties: bag() });
      for (let i = 0; i < size; i++) foundry.withOperation(`step-${i}`, step);
      if (persisted) usePersistence(foundry, provider, { instanceId: `bench-${run++}` });
      return foundry.forge<number>({ input: 0 });
    },
  };
}

const provider = new MemoryPersistenceProvider({ live: true });

export async function run(): Promise<BenchSection> {
  const rows: Record<string, string | number>[] = [];
  const notes: string[] = [];
  for (const [label, bag] of Object.entries(bags)) {
    const cases = sizes.map((size) => ({ plain: workflow(size, bag, false), persisted: workflow(size, bag, true) }));
    const unitsPerSample = label === "10 keys" ? 50_000 : 2_000;
    const results = await measureInterleaved(cases, label === "10 keys" ? { unitsPerSample, rounds: 21 } : { unitsPerSample, warmupRounds: 1, rounds: 5 });
    const perStep = results.map(({ plain, persisted }) => persisted.median - plain.median);
    results.forEach(({ plain, persisted }, i) =>
      rows.push({
        "property bag": label,
        steps: sizes[i] as number,
        "without ns/step": Math.round(plain.median),
        "with ns/step": Math.round(persisted.median),
        "overhead ns/step": Math.round(perStep[i] as number),
        ratio: ratio(persisted.median / plain.median),
      }),
    );
    const flat = (results[2]?.persisted.median ?? Number.NaN) / (results[0]?.persisted.median ?? Number.NaN);
    if (label === "10 keys") {
      const worst = Math.max(...perStep);
      notes.push(`Target: at most ${overheadTargetNs / 1000} µs of the engine's own overhead per step for the 10-key bag, memory provider \`{ live: true }\` (no encoding): ${verdict(worst <= overheadTargetNs)} (worst ${Math.round(worst)} ns).`);
    }
    notes.push(`Target (${label}): per-step cost at 10,000 steps within ${flatTarget}× of the cost at 10: ${verdict(flat <= flatTarget)} (${ratio(flat)}).`);
  }
  if (provider.size !== 0) throw new Error(`${provider.size} snapshots were left behind: every run must delete its snapshot`);
  notes.push(
    "Engine overhead: the memory provider runs with `{ live: true }`, so each step saves a deep copy of the bag, not its encoding; the run loads once and deletes once. The foundry is created inside both sides.",
  );
  notes.push("The default memory provider encodes every save and decodes every load with the codec, as a durable store does: add the codec section's encode cost per step for it.");
  notes.push("10 keys: median of 21 samples of 50,000 steps after 3 warm-up rounds; 100 KB: 5 samples of at least 2,000 steps (one run, at 10,000 steps) after 1. Sizes interleaved.");
  return { title: "Persistence overhead per step (memory provider)", rows, notes };
}
