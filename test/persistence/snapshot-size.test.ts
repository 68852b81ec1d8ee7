import { describe, it, expect } from "vitest";
import { usePersistence, type WorkflowExecutionSnapshot } from "../../src/persistence/index.js";
import { RecordingProvider, countedFoundry, opNames, snapshotFor, uniqueKeys } from "./helpers.js";

const STEPS = 1000;
const growing = (index: number) => ({ step: index, payload: "x".repeat(index) });
const userProperties = { orderId: "A-1", customer: { name: "Ada", tags: ["vip"] } };

/**
 * The snapshot without what legitimately differs from one checkpoint to the next: the counters,
 * the clock, the last operation's output (which chaining needs) and the timeline's numbers (one
 * per operation of the definition, checked on their own). What is left must not depend on how
 * many operations have completed.
 */
function skeleton(snapshot: WorkflowExecutionSnapshot): string {
  return JSON.stringify({ ...snapshot, lastOutput: undefined, nextOperationIndex: 0, revision: 0, createdAt: "", updatedAt: "", timeline: undefined });
}

describe("snapshot size", () => {
  it("does not grow with the number of completed operations", async () => {
    const provider = new RecordingProvider();
    const { foundry } = countedFoundry(STEPS, { properties: structuredClone(userProperties), output: growing });
    usePersistence(foundry, provider, uniqueKeys("size"));
    await foundry.forge();
    expect(provider.saves).toHaveLength(STEPS);
    const afterTen = provider.saves[9] as WorkflowExecutionSnapshot;
    const afterAll = provider.saves[STEPS - 1] as WorkflowExecutionSnapshot;
    expect(afterTen.nextOperationIndex).toBe(10);
    expect(afterAll.nextOperationIndex).toBe(STEPS);
    expect(skeleton(afterAll).length).toBe(skeleton(afterTen).length);
    expect(skeleton(afterAll)).toBe(skeleton(afterTen));
    for (const snapshot of [afterTen, afterAll]) {
      expect(snapshot.timeline?.split(";")).toHaveLength(STEPS);
    }
  });

  it("keeps only the last operation's output, and no outputs for operations without a restore", async () => {
    const provider = new RecordingProvider();
    const { foundry } = countedFoundry(50, { output: growing });
    usePersistence(foundry, provider, uniqueKeys("size"));
    await foundry.forge();
    provider.saves.forEach((snapshot, index) => {
      expect(snapshot.lastOutput).toEqual(growing(index));
      expect(snapshot.outputs).toBeUndefined();
    });
  });

  it("never puts engine bookkeeping into the properties", async () => {
    const provider = new RecordingProvider();
    const { foundry } = countedFoundry(20, { properties: structuredClone(userProperties), output: growing });
    usePersistence(foundry, provider, { ...uniqueKeys("size"), lease: { ttlMs: 60_000 }, onComplete: "keep" });
    await foundry.forge();
    for (const snapshot of provider.saves) expect(snapshot.properties).toEqual(userProperties);
    expect(foundry.properties).toEqual(userProperties);
  });

  it("never puts engine bookkeeping into the properties of a resumed run", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys("size");
    provider.seed(snapshotFor(keys, opNames(5), { nextOperationIndex: 3, lastOutput: "out-2", properties: userProperties }));
    const { foundry } = countedFoundry(5, { onForge: (_, __, running) => void (running.properties.touched = true) });
    usePersistence(foundry, provider, keys);
    await foundry.forge();
    expect(provider.saves.map((snapshot) => snapshot.properties)).toEqual([
      { ...userProperties, touched: true },
      { ...userProperties, touched: true },
    ]);
    expect(foundry.properties).toEqual({ ...userProperties, touched: true });
  });
});
