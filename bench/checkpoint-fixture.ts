import { createFoundry } from "../dist/index.js";
import {
  MemoryPersistenceProvider,
  defaultSnapshotCodec,
  usePersistence,
  type WorkflowExecutionSnapshot,
  type WorkflowPersistenceProvider,
} from "../dist/persistence/index.js";
import { pairedMedian, ratio, type Side, type Summary } from "./measure.js";

// The workload every provider bench checkpoints: a 200-step workflow with a 10-key order bag, and
// the five sides each bench measures it with. Shared so that the providers' numbers compare the
// same snapshots, measured the same way.

export const steps = 200;
export type Bag = Record<string, unknown>;

const initialProperties = (): Bag => ({
  orderId: "order-000042",
  customer: { id: "c-1042", name: "Ada Lovelace", email: "ada@example.com", vip: false },
  items: [
    { sku: "SKU-1", qty: 2, price: 19.99 },
    { sku: "SKU-2", qty: 1, price: 5.5 },
    { sku: "SKU-3", qty: 4, price: 0.99 },
  ],
  total: 0,
  currency: "EUR",
  address: { street: "12 Analytical Row", city: "London", zip: "N1 9GU", country: "GB" },
  attempts: 0,
  note: "leave at the door; ring twice",
  tags: ["priority", "gift", "fragile"],
  lastStep: "",
});

export interface CheckpointFixture {
  readonly name: string;
  /** A fresh foundry with the bag and the steps, no persistence. */
  orderFoundry(): ReturnType<typeof createFoundry<Bag>>;
  keyOptions(instanceId: string): { instanceId: string; workflowKey: string };
  /** The snapshots a real run saves, captured once: the provider-only and raw sides write exactly these. */
  readonly snapshots: readonly WorkflowExecutionSnapshot[];
}

/** The order workflow for `name` ("SqliteBench", ...), its keys, and the snapshots a run saves. */
export async function checkpointFixture(name: string): Promise<CheckpointFixture> {
  function orderFoundry() {
    const foundry = createFoundry<Bag>(name, { properties: initialProperties() });
    for (let index = 0; index < steps; index++) {
      foundry.withOperation(`step-${index}`, (input: number | undefined, f) => {
        f.properties.total = (f.properties.total as number) + 1;
        f.properties.lastStep = `step-${index}`;
        return (input ?? 0) + 1;
      });
    }
    return foundry;
  }
  const keyOptions = (instanceId: string) => ({ instanceId, workflowKey: `${name}-v1` });
  const memory = new MemoryPersistenceProvider();
  const snapshots: WorkflowExecutionSnapshot[] = [];
  const recording = {
    // What it implements: its compare-and-set is the memory provider's (no list, claim or mailbox methods).
    capabilities: { compareAndSet: true },
    save: (snapshot: WorkflowExecutionSnapshot) => (snapshots.push(snapshot), memory.save(snapshot)),
    tryLoad: (instance: string, workflow: string) => memory.tryLoad(instance, workflow),
    delete: (instance: string, workflow: string) => memory.delete(instance, workflow),
  };
  await usePersistence(orderFoundry(), recording, keyOptions("bench-captured")).forge();
  return { name, orderFoundry, keyOptions, snapshots };
}

export type SideName = "bare" | "persisted" | "save" | "raw" | "rawJson" | "encode";

/** The raw driver's write of the text the provider would store, for the floor. */
export interface RawWrite {
  /** Writes `text`, the stored form of `snapshot`. A synchronous driver returns no promise, and is not awaited. */
  write(snapshot: WorkflowExecutionSnapshot, text: string): unknown;
  /** Removes what the writes stored, once per run: the provider's run ends with a delete too. */
  end(): unknown;
}

const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as { then?: unknown } | null)?.then === "function";

/**
 * The five sides of a provider bench: `bare` and `persisted` run the workflow without and with
 * `usePersistence(provider)`; `save` saves the captured snapshots straight to the provider, then
 * deletes; `raw` writes the same stored text per step through `raw`; `rawJson` writes
 * `JSON.stringify(snapshot)` made in the loop, the floor of any provider that stores JSON;
 * `encode` is the codec alone.
 * `stored` turns a snapshot into the stored text (the codec's, by default), computed once for `raw`.
 */
export function checkpointSides(
  fixture: CheckpointFixture,
  provider: WorkflowPersistenceProvider,
  raw: RawWrite,
  stored: (snapshot: WorkflowExecutionSnapshot) => string = (snapshot) => defaultSnapshotCodec.encode(snapshot),
): Record<SideName, Side> {
  const { snapshots } = fixture;
  const bare = fixture.orderFoundry();
  const persisted = usePersistence(fixture.orderFoundry(), provider, fixture.keyOptions("bench-persisted"));
  const texts = snapshots.map(stored);
  const { foundryExecutionId, workflowId } = snapshots[0] as WorkflowExecutionSnapshot;
  return {
    bare: { run: () => bare.forge(), units: steps },
    persisted: { run: () => persisted.forge(), units: steps },
    save: {
      run: async () => {
        for (const snapshot of snapshots) await provider.save(snapshot);
        await provider.delete(foundryExecutionId, workflowId);
      },
      units: steps,
    },
    raw: rawSide(raw, snapshots, (i) => texts[i] as string),
    rawJson: rawSide(raw, snapshots, (i) => JSON.stringify(snapshots[i])),
    encode: { run: () => Promise.resolve(snapshots.map(stored)), units: steps },
  };
}

/**
 * The floor of a provider that stores JSON through its own compare-and-set: `cas` writes each
 * snapshot's `JSON.stringify`, made in the loop as a provider would make it, one write per step.
 */
export const jsonSide = (cas: RawWrite, fixture: CheckpointFixture): Side => rawSide(cas, fixture.snapshots, (i) => JSON.stringify(fixture.snapshots[i]));

/**
 * A driver call the provider made, recorded to be made again by hand: `replay(text)` gives its
 * arguments with the stored text (`stored`, found among them once) replaced by `text`.
 */
export function replayWithText<T>(args: readonly T[], stored: string): (text: string) => T[] {
  const at = args.indexOf(stored as T);
  if (at < 0 || args.indexOf(stored as T, at + 1) >= 0) throw new Error("a recorded call does not carry the stored text exactly once");
  return (text) => args.map((arg, i) => (i === at ? (text as T) : arg));
}

/** Per round, checkpoint ÷ `floor` (sides measured moments apart), summarised over rounds. */
export const checkpointOver = <K extends string>(samples: Readonly<Record<SideName | K, readonly number[]>>, floor: SideName | K): Summary =>
  pairedMedian(samples, (at) => (at("persisted") - at("bare")) / at(floor));

// One write per step through `raw`, then its end: `textAt(i)` is the text of step i.
function rawSide(raw: RawWrite, snapshots: readonly WorkflowExecutionSnapshot[], textAt: (index: number) => string): Side {
  return {
    run: async () => {
      for (let i = 0; i < snapshots.length; i++) {
        const written = raw.write(snapshots[i] as WorkflowExecutionSnapshot, textAt(i));
        if (isThenable(written)) await written;
      }
      const ended = raw.end();
      if (isThenable(ended)) await ended;
    },
    units: steps,
  };
}

/**
 * Runs every side once and checks it, since a failed check would make every number meaningless:
 * both workflow runs return `steps`, and nothing is stored afterwards (`leftovers` says what is).
 */
export async function verifySides(sides: Record<SideName, Side>, leftovers: () => Promise<readonly unknown[]> | readonly unknown[]): Promise<void> {
  for (const name of ["bare", "persisted"] as const) {
    const output = await sides[name].run();
    if (output !== steps) throw new Error(`the ${name} run returned ${String(output)}, expected ${steps}`);
  }
  await sides.save.run();
  await sides.raw.run();
  await sides.rawJson.run();
  await sides.encode.run();
  const left = await leftovers();
  if (left.length !== 0) throw new Error(`left behind after the verification runs: ${left.map(String).join(", ")}`);
}

/** Nanoseconds as microseconds with two decimals, for the tables. */
export const us = (ns: number): number => Math.round(ns / 10) / 100;

/** checkpoint = per-step (persisted − bare): what persistence costs a step, end to end. */
export const checkpointOf = (result: Record<SideName, Summary>): number => result.persisted.median - result.bare.median;

/** One table row: `label` first (e.g. `{ backend: "PGlite" }`), then the sides; `rawName` names the floor ("raw upsert"). */
export function checkpointRow(label: Record<string, string>, rawName: string, result: Record<SideName, Summary>): Record<string, string | number> {
  const checkpoint = checkpointOf(result);
  return {
    ...label,
    [`${rawName} µs/step`]: us(result.raw.median),
    [`${rawName} + JSON.stringify µs/step`]: us(result.rawJson.median),
    "encode µs/step": us(result.encode.median),
    "provider.save µs/step": us(result.save.median),
    "engine µs/step": us(checkpoint - result.save.median),
    "checkpoint µs/step": us(checkpoint),
    "checkpoint spread": `±${(((result.persisted.spread * result.persisted.median) / checkpoint) * 100).toFixed(1)}%`,
    "save / raw": ratio(result.save.median / result.raw.median),
    "checkpoint / raw": ratio(checkpoint / result.raw.median),
    "(raw + JSON) / raw": ratio(result.rawJson.median / result.raw.median),
  };
}

/** The note that explains the `+ JSON.stringify` column, for every provider bench. */
export const jsonFloorNote = (rawName: string): string =>
  `${rawName} + JSON.stringify: the same raw write, of \`JSON.stringify(snapshot)\` made in the loop (no envelope, no checksum, no checks): what any provider that stores JSON pays at least.`;

/** The average length of the stored text, for the notes. */
export const averageLength = (fixture: CheckpointFixture, stored: (snapshot: WorkflowExecutionSnapshot) => string = (s) => defaultSnapshotCodec.encode(s)): number =>
  Math.round(fixture.snapshots.reduce((sum, snapshot) => sum + stored(snapshot).length, 0) / fixture.snapshots.length);
