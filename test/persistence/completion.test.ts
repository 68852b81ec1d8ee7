import { describe, it, expect } from "vitest";
import { MemoryPersistenceProvider, usePersistence } from "../../src/persistence/index.js";
import { countedFoundry, opNames } from "../support/counted-workflow.js";
import { RecordingProvider } from "../support/recording-provider.js";
import { snapshotFor, uniqueKeys } from "../support/run-snapshots.js";

describe("completion", () => {
  it("deletes the snapshot after the last operation by default", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const { foundry } = countedFoundry(3);
    const deleted: unknown[] = [];
    foundry.on("snapshotDeleted", (event) => deleted.push(event));
    usePersistence(foundry, provider, keys);
    await foundry.forge();
    expect(provider.count("delete")).toBe(1);
    expect(provider.calls.at(-1)).toMatchObject({ call: "delete", foundryExecutionId: keys.instanceId, workflowId: keys.workflowKey });
    expect(provider.stored(keys)).toBeUndefined();
    expect(deleted).toEqual([{ foundryExecutionId: keys.instanceId, workflowId: keys.workflowKey }]);
  });

  it('with onComplete "keep" stores status completed with the last save: N saves and no delete', async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const { foundry } = countedFoundry(3, { properties: { orderId: "A-1" } });
    usePersistence(foundry, provider, { ...keys, onComplete: "keep" });
    await expect(foundry.forge()).resolves.toBe("out-2");
    expect(provider.count("save")).toBe(3);
    expect(provider.count("delete")).toBe(0);
    expect(provider.saves.map((snapshot) => snapshot.status)).toEqual(["running", "running", "completed"]);
    const stored = provider.stored(keys);
    expect(stored).toEqual(provider.saves[2]);
    expect(stored).toMatchObject({ status: "completed", nextOperationIndex: 3, operationCount: 3, lastOutput: "out-2", properties: { orderId: "A-1" } });
  });

  it("starts a later run with the same keys fresh after a kept completed snapshot", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const first = countedFoundry(3);
    usePersistence(first.foundry, provider, { ...keys, onComplete: "keep" });
    await first.foundry.forge();

    const second = countedFoundry(3);
    usePersistence(second.foundry, provider, { ...keys, onComplete: "keep" });
    await second.foundry.forge();
    expect(second.log.runs).toEqual([1, 1, 1]);
  });

  it("starts fresh after a completed snapshot even if the definition changed, continuing the stored revision", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    provider.seed(snapshotFor(keys, ["old-a", "old-b"], { status: "completed", nextOperationIndex: 2, revision: 5, properties: { stale: true } }));
    const { foundry, log } = countedFoundry(4);
    usePersistence(foundry, provider, keys);
    await expect(foundry.forge()).resolves.toBe("out-3");
    expect(log.runs).toEqual([1, 1, 1, 1]);
    expect(foundry.properties).toEqual({});
    expect(provider.saves[0]).toMatchObject({ revision: 6, nextOperationIndex: 1, status: "running", properties: {} });
    expect(provider.saves.map((snapshot) => snapshot.revision)).toEqual([6, 7, 8, 9]);
  });

  it("lets compare-and-set accept every save of a run that follows a kept completed snapshot", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    for (let run = 0; run < 3; run++) {
      const { foundry } = countedFoundry(2);
      usePersistence(foundry, provider, { ...keys, onComplete: "keep" });
      await foundry.forge();
    }
    expect(provider.tryLoad(keys.instanceId, keys.workflowKey)).toMatchObject({ status: "completed", revision: 6 });
  });

  it("deletes a stored snapshot whose progress already covers every operation without running any", async () => {
    // What a crash between the last checkpoint and the delete leaves behind.
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    provider.seed(snapshotFor(keys, opNames(3), { nextOperationIndex: 3, lastOutput: "out-2", revision: 3 }));
    const { foundry, log } = countedFoundry(3);
    usePersistence(foundry, provider, keys);
    await expect(foundry.forge()).resolves.toBe("out-2");
    expect(log.runs).toEqual([]);
    expect(provider.stored(keys)).toBeUndefined();
  });
});
