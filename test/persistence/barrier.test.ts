import { describe, it, expect } from "vitest";
import { PersistenceError, usePersistence, type WorkflowExecutionSnapshot } from "../../src/persistence/index.js";
import { countedFoundry, runCounts } from "../support/counted-workflow.js";
import { deferred, rejectionOf, settle, type Deferred } from "../support/promises.js";
import { RecordingProvider } from "../support/recording-provider.js";
import { uniqueKeys } from "../support/run-snapshots.js";

/** A provider whose saves each wait for the test to release them. */
function gatedProvider() {
  const pending: { snapshot: WorkflowExecutionSnapshot; gate: Deferred }[] = [];
  let arrived = deferred();
  const provider = new RecordingProvider(undefined, {
    save: (snapshot) => {
      const gate = deferred();
      pending.push({ snapshot, gate });
      arrived.resolve();
      return gate.promise;
    },
  });
  const nextSave = async () => {
    await arrived.promise;
    arrived = deferred();
    return pending.shift() as { snapshot: WorkflowExecutionSnapshot; gate: Deferred };
  };
  return { provider, nextSave };
}

describe("the checkpoint barrier", () => {
  it("does not start operation i + 1 before the save after operation i resolves", async () => {
    const { provider, nextSave } = gatedProvider();
    const { foundry, log } = countedFoundry(4);
    usePersistence(foundry, provider, uniqueKeys());
    const run = foundry.forge();
    for (let index = 0; index < 4; index++) {
      const { snapshot, gate } = await nextSave();
      expect(snapshot.nextOperationIndex).toBe(index + 1);
      await settle();
      expect(log.events).toEqual(Array.from({ length: index + 1 }, (_, i) => `forge:${i}`));
      gate.resolve();
    }
    await expect(run).resolves.toBe("out-3");
    expect(runCounts(log, 4)).toEqual([1, 1, 1, 1]);
  });

  it("does not start operation i + 1 while the save after operation i is pending, however long it takes", async () => {
    const { provider, nextSave } = gatedProvider();
    const { foundry, log } = countedFoundry(2);
    usePersistence(foundry, provider, uniqueKeys());
    const run = foundry.forge();
    const first = await nextSave();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(log.runs[1]).toBeUndefined();
    first.gate.resolve();
    (await nextSave()).gate.resolve();
    await run;
    expect(log.runs).toEqual([1, 1]);
  });

  it("fails the run with PersistenceError when a save fails and runs no further operation", async () => {
    const keys = uniqueKeys();
    const cause = new Error("disk full");
    const provider = new RecordingProvider(undefined, {
      save: (snapshot) => {
        if (snapshot.nextOperationIndex === 2) throw cause;
      },
    });
    const { foundry, log } = countedFoundry(4);
    usePersistence(foundry, provider, keys);
    const error = await rejectionOf(foundry.forge());
    expect(error).toBeInstanceOf(PersistenceError);
    expect((error as PersistenceError).cause).toBe(cause);
    expect(runCounts(log, 4)).toEqual([1, 1, 0, 0]);
  });

  it("writes nothing more after a failed save, so the stored snapshot stays the last good one", async () => {
    const keys = uniqueKeys();
    const provider = new RecordingProvider(undefined, {
      save: (snapshot) => {
        if (snapshot.nextOperationIndex === 2) throw new Error("disk full");
      },
    });
    const { foundry } = countedFoundry(4);
    usePersistence(foundry, provider, keys);
    await expect(foundry.forge()).rejects.toBeInstanceOf(PersistenceError);
    expect(provider.calls.map((record) => record.call)).toEqual(["tryLoad", "save", "save"]);
    const stored = provider.stored(keys);
    expect(stored).toEqual(provider.saves[0]);
    expect(stored?.revision).toBe(1);
    expect(stored?.nextOperationIndex).toBe(1);
    expect(stored?.status).toBe("running");
  });
});
