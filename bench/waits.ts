import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { action, createFoundry, createSmith, createWorkflow, sleep, waitForEvent } from "../dist/index.js";
import { createRecoveryCoordinator, signalInstance, usePersistence, type WorkflowExecutionSnapshot, type WorkflowPersistenceProvider } from "../dist/persistence/index.js";
import { ratio, verdict } from "./measure.js";
import type { BenchSection } from "./report.js";
import { openBenchStore, type BenchStore, type StoreName } from "./waits-stores.js";

// The `waits` section of `npm run bench` (issue 16):
// (a) from `signal` (sent through a second connection, as from another process) to the step after
//     the wait starting in an idle worker's coordinator: on Postgres and Redis woken by the store's
//     push (their poll interval set long, so that the push is what is measured), on SQLite and the
//     file provider by polling (against the poll interval: a wait of half of it on average);
// (b) one resumeAll pass over a store holding 10,000 waiting records not yet due (the pass claims
//     nothing), against a pass over one beside it holding 100, paired: finding due work must not
//     cost more with more sleepers;
// (c) a worker's heap after suspending 100, then 10,000 instances more, against the heap after 100
//     (after 1,000 to warm up, which the heap keeps whatever follows).

const pollMs = 250;
const pushPollMs = 10_000;
const samples = { push: 60, poll: 30 };
const passes = 41;

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const percentile = (values: readonly number[], p: number): number => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] as number;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function withStore<T>(name: StoreName, use: (store: BenchStore) => Promise<T>): Promise<T | string> {
  const store = await openBenchStore(name);
  if (typeof store === "string") return store;
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

// (a) Milliseconds from each signal to the step after the wait starting, one instance at a time.
async function signalLatency(store: BenchStore, count: number): Promise<number[]> {
  const next = new Map<string, (at: number) => void>();
  const workflow = createWorkflow("approval")
    .addOperation(waitForEvent("approval", "approved"))
    .addOperation(action("next", (_input: unknown, foundry) => next.get(foundry.executionId)?.(performance.now())))
    .build();
  const coordinator = createRecoveryCoordinator({ provider: store.provider, resolveWorkflow: () => workflow, concurrency: 8 });
  for (let index = 0; index < count; index++) await coordinator.enqueue(workflow, { instanceId: `approval-${index}` });
  await coordinator.resumeAll();
  coordinator.start({ pollIntervalMs: store.push ? pushPollMs : pollMs });
  const latencies: number[] = [];
  try {
    for (let index = 0; index < count; index++) {
      // At a random moment of the poll cycle, as a real sender would be.
      await pause(Math.random() * (store.push ? 20 : pollMs));
      const started = new Promise<number>((resolve) => next.set(`approval-${index}`, resolve));
      const sent = performance.now();
      await signalInstance(store.sender, { instanceId: `approval-${index}`, workflowKey: workflow.id }, "approved", { by: "bench" });
      latencies.push((await started) - sent);
    }
  } finally {
    await coordinator.close();
  }
  return latencies;
}

const sleeper = createWorkflow("sleeper").addOperation(sleep("nap", 30 * 86_400_000)).addOperation(action("after", () => undefined)).build();

// A record as a run suspended at the 30-day sleep leaves it, to copy under other keys.
async function sleepingRecord(provider: WorkflowPersistenceProvider): Promise<WorkflowExecutionSnapshot> {
  await createSmith().forge(sleeper, usePersistence(createFoundry("sleeper"), provider, { instanceId: "template" })).catch(() => undefined);
  const stored: Record<string, unknown> = { ...(await provider.tryLoad("template", sleeper.id)) };
  await provider.delete("template", sleeper.id);
  for (const claim of ["owner", "leaseExpiresAt", "attempts"]) delete stored[claim];
  return stored as unknown as WorkflowExecutionSnapshot;
}

// (b) One resumeAll pass over a store holding 100 sleepers and one over a store beside it (same
// server and connection, its own table or key prefix) holding 10,000, taken in pairs, the order
// alternating: the median of each, and the median of the ratios within a pair. A pass takes a
// fraction of a millisecond, so pairing is what keeps a pause of the process or the server from
// landing on one side only.
async function passCost(store: BenchStore): Promise<{ few: number; many: number; ratio: number }> {
  const template = await sleepingRecord(store.provider);
  const sides = [{ provider: store.provider, sleepers: 100 }, { provider: await store.alongside("many"), sleepers: 10_000 }];
  for (const { provider, sleepers } of sides) {
    for (let stored = 0; stored < sleepers; stored += 100) {
      await Promise.all(Array.from({ length: 100 }, async (_, offset) => provider.save({ ...template, foundryExecutionId: `sleeper-${stored + offset}`, revision: 1 })));
    }
  }
  const coordinators = sides.map(({ provider }) => createRecoveryCoordinator({ provider, resolveWorkflow: () => sleeper }));
  const times: [number[], number[]] = [[], []];
  const ratios: number[] = [];
  for (let pass = 0; pass < passes + 3; pass++) {
    const pair = [0, 0];
    for (const side of pass % 2 === 0 ? [0, 1] : [1, 0]) {
      const started = performance.now();
      const report = await (coordinators[side] as (typeof coordinators)[number]).resumeAll();
      pair[side] = performance.now() - started;
      if (report.resumed.length + report.suspended.length > 0) throw new Error("a pass woke a sleeper that is not due");
    }
    if (pass < 3) continue;
    times[0].push(pair[0] as number);
    times[1].push(pair[1] as number);
    ratios.push((pair[1] as number) / (pair[0] as number));
  }
  await Promise.all(coordinators.map((coordinator) => coordinator.close()));
  return { few: median(times[0]), many: median(times[1]), ratio: median(ratios) };
}

// Suspends the instances enqueued so far: how many suspended (the report itself is not kept, so
// that the heap measured after it is the worker's, not the report's).
async function suspendAll(coordinator: ReturnType<typeof createRecoveryCoordinator>): Promise<number> {
  return (await coordinator.resumeAll()).suspended.length;
}

// (c) Heap used after suspending 100, then 10,000 instances, after a full collection each time.
async function heapAfterSuspending(store: BenchStore): Promise<[number, number]> {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const coordinator = createRecoveryCoordinator({ provider: store.provider, resolveWorkflow: () => sleeper, concurrency: 8 });
  const heaps: number[] = [];
  let enqueued = 0;
  // A first thousand warms the worker up (compiled code, prepared statements), and is not measured.
  for (const total of [1_000, 1_100, 11_000]) {
    const before = enqueued;
    for (; enqueued < total; enqueued++) await coordinator.enqueue(sleeper, { instanceId: `heap-${enqueued}` });
    const suspended = await suspendAll(coordinator);
    if (suspended !== total - before) throw new Error(`suspended ${suspended} of ${total - before}`);
    gc();
    gc();
    heaps.push(process.memoryUsage().heapUsed / 1_048_576);
  }
  await coordinator.close();
  return heaps.slice(1) as [number, number];
}

export async function run(): Promise<BenchSection> {
  const rows: Array<Record<string, string | number>> = [];
  const notes: string[] = [];
  for (const name of ["postgres", "redis", "sqlite", "file"] as const) {
    const measured = await withStore(name, async (store) => ({ store, latencies: await signalLatency(store, store.push ? samples.push : samples.poll) }));
    if (typeof measured === "string") {
      notes.push(`${name}: not measured (${measured}).`);
      continue;
    }
    const { store, latencies } = measured;
    const [p50, p99] = [percentile(latencies, 0.5), percentile(latencies, 0.99)];
    const goal = store.push ? 1_000 : pollMs + 1_000;
    rows.push({ measure: `(a) signal → next step, ${store.name}, ${store.push ? "push" : `polling every ${pollMs} ms`}`, "p50 ms": Math.round(p50), "p99 ms": Math.round(p99), against: store.push ? "goal 1,000 ms" : `poll interval ${pollMs} ms (+1 s goal)`, ratio: ratio(p99 / (store.push ? 1_000 : pollMs)) });
    notes.push(`Target (${store.name}, ${store.push ? "push" : "polling"}): signal to next step, p99 under ${store.push ? "1 s" : "the poll interval + 1 s"}: ${verdict(p99 < goal)} (p99 ${Math.round(p99)} ms, ${latencies.length} signals).`);
  }
  for (const name of ["sqlite", "postgres", "redis"] as const) {
    const measured = await withStore(name, async (store) => ({ store, costs: await passCost(store) }));
    if (typeof measured === "string") continue;
    const { few, many, ratio: paired } = measured.costs;
    rows.push({ measure: `(b) one resumeAll pass, ${measured.store.name}: 100 → 10,000 sleepers not due`, "p50 ms": Number(many.toFixed(2)), "p99 ms": "", against: `${few.toFixed(2)} ms with 100`, ratio: ratio(paired) });
    notes.push(`Target (${measured.store.name}): a resumeAll pass with 10,000 sleepers not due within 1.5× of the pass with 100: ${verdict(paired < 1.5)} (${ratio(paired)}).`);
  }
  const heap = await withStore("sqlite", heapAfterSuspending);
  if (typeof heap !== "string") {
    const [few, many] = heap;
    rows.push({ measure: "(c) a worker's heap after suspending 100 → 10,000 more instances (SQLite, after 1,000 to warm up)", "p50 ms": "", "p99 ms": "", against: `${few.toFixed(1)} MiB after 100`, ratio: ratio(many / few) });
    notes.push(`Target (SQLite): a worker's heap after suspending 10,000 instances within 1.2× of its heap after 100: ${verdict(many / few < 1.2)} (${few.toFixed(1)} → ${many.toFixed(1)} MiB).`);
  }
  notes.push(`(a) is timed from just before \`signalInstance\` on a second connection to the step after the wait starting; (b) and (c) hold the waiting records in the store, not in the worker.`);
  notes.push(`Push stores poll every ${pushPollMs / 1_000} s here, so their latency is the push's; a pass is timed ${passes} times on each side after 3 warm-ups, the sides alternating; the ratio is the median of the ratios within a pair.`);
  return { title: "Waits: signal to next step, a resumeAll pass over sleepers, a worker's heap", rows, notes };
}
