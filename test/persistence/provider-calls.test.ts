import { describe, it, expect } from "vitest";
import { MemoryPersistenceProvider, PersistenceError, usePersistence, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { countedFoundry, operationLog } from "../support/counted-workflow.js";
import { rejectionOf } from "../support/promises.js";
import { RecordingProvider } from "../support/recording-provider.js";
import { uniqueKeys } from "../support/run-snapshots.js";

const failOnceAt = (failing: number) => (index: number, attempt: number) => {
  if (index === failing && attempt === 1) throw new Error(`operation ${index} failed`);
};

function syncProvider(memory: MemoryPersistenceProvider): WorkflowPersistenceProvider {
  return {
    save: (snapshot, signal) => memory.save(snapshot, signal),
    tryLoad: (instance, workflow, signal) => memory.tryLoad(instance, workflow, signal),
    delete: (instance, workflow, signal) => memory.delete(instance, workflow, signal),
  };
}

function asyncProvider(memory: MemoryPersistenceProvider): WorkflowPersistenceProvider {
  const later = async <T>(work: () => T): Promise<T> => {
    await new Promise((resolve) => setImmediate(resolve));
    return work();
  };
  return {
    save: (snapshot, signal) => later(() => memory.save(snapshot, signal)),
    tryLoad: (instance, workflow, signal) => later(() => memory.tryLoad(instance, workflow, signal)),
    delete: (instance, workflow, signal) => later(() => memory.delete(instance, workflow, signal)),
  };
}

describe("provider styles", () => {
  it.each([
    { style: "synchronous", wrap: syncProvider },
    { style: "asynchronous", wrap: asyncProvider },
  ])("resumes through a $style provider", async ({ wrap }) => {
    const memory = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    const log = operationLog();
    const run = () => {
      const { foundry } = countedFoundry(3, { log, onForge: failOnceAt(1) });
      return usePersistence(foundry, wrap(memory), keys).forge();
    };
    await expect(run()).rejects.toThrow("operation 1 failed");
    expect(memory.tryLoad(keys.instanceId, keys.workflowKey)?.nextOperationIndex).toBe(1);
    await expect(run()).resolves.toBe("out-2");
    expect(log.runs).toEqual([1, 2, 1]);
    expect(memory.size).toBe(0);
  });
});

type Call = "save" | "tryLoad" | "delete";
const failures = [
  { kind: "throws synchronously", original: () => new Error("disk on fire"), fail: (error: unknown) => { throw error; } },
  { kind: "rejects", original: () => new Error("disk on fire"), fail: async (error: unknown) => {
    await Promise.resolve();
    throw error;
  } },
  { kind: "throws a string", original: () => "disk on fire", fail: (error: unknown) => { throw error; } },
] as const;
const cases = (["tryLoad", "save", "delete"] as const).flatMap((call) => failures.map((failure) => ({ call, ...failure })));

function failingProvider(call: Call, fail: () => unknown): WorkflowPersistenceProvider {
  const memory = syncProvider(new MemoryPersistenceProvider());
  return {
    save: (snapshot, signal) => (call === "save" ? (fail() as void) : memory.save(snapshot, signal)),
    tryLoad: (instance, workflow, signal) => (call === "tryLoad" ? (fail() as undefined) : memory.tryLoad(instance, workflow, signal)),
    delete: (instance, workflow, signal) => (call === "delete" ? (fail() as void) : memory.delete(instance, workflow, signal)),
  };
}

describe("provider failures", () => {
  it.each(cases)("a $call that $kind rejects the run with PersistenceError naming the call and both keys", async ({ call, original, fail }) => {
    const keys = uniqueKeys("fail");
    const cause = original();
    const { foundry } = countedFoundry(2);
    usePersistence(foundry, failingProvider(call, () => fail(cause)), keys);
    const error = await rejectionOf(foundry.forge());
    expect(error).toBeInstanceOf(PersistenceError);
    const persistence = error as PersistenceError;
    expect(persistence.cause).toBe(cause);
    expect(persistence.call).toBe(call);
    expect(persistence.code).toBe("PERSISTENCE");
    expect(persistence.message).toContain(call);
    expect(persistence.message).toContain(keys.instanceId);
    expect(persistence.message).toContain(keys.workflowKey);
    expect(persistence.message).toContain("disk on fire");
  });

  it("runs no operation when tryLoad fails", async () => {
    const { foundry, log } = countedFoundry(2);
    usePersistence(foundry, failingProvider("tryLoad", () => { throw new Error("down"); }), uniqueKeys());
    await expect(foundry.forge()).rejects.toBeInstanceOf(PersistenceError);
    expect(log.runs).toEqual([]);
  });
});

describe("the abort signal", () => {
  it("reaches every provider call while the run is in progress, and is unlinked from the caller's once it settled", async () => {
    const controller = new AbortController();
    // Aborts the caller's signal from the second run's delete, its last call: every call of that run must see it.
    let abortAtDelete = false;
    let seenAtDelete: (boolean | undefined)[] = [];
    const provider = new RecordingProvider(undefined, {
      delete: () => {
        if (!abortAtDelete) return;
        controller.abort();
        seenAtDelete = provider.calls.slice(secondRunFrom).map((record) => record.signal?.aborted);
      },
    });
    let secondRunFrom = 0;
    const keys = uniqueKeys();
    const log = operationLog();
    const run = () => {
      const { foundry } = countedFoundry(3, { log, onForge: failOnceAt(1) });
      return usePersistence(foundry, provider, { ...keys, lease: { ttlMs: 60_000 } }).forge({ signal: controller.signal });
    };
    await expect(run()).rejects.toThrow("operation 1 failed");
    expect(provider.saves.map((snapshot) => snapshot.status)).toContain("failed");
    secondRunFrom = provider.calls.length;
    abortAtDelete = true;
    await run().catch(() => undefined);
    expect(provider.calls.slice(secondRunFrom).map((record) => record.call)).toEqual(expect.arrayContaining(["tryLoad", "save", "delete"]));
    // Under a lease each call gets the run's signal joined with the lease's: aborting the run aborts every one.
    expect(seenAtDelete.length).toBeGreaterThan(2);
    expect(seenAtDelete.every((aborted) => aborted === true)).toBe(true);
    // The first run had settled: nothing of it stayed linked to the caller's signal.
    expect(provider.calls.slice(0, secondRunFrom).some((record) => record.signal?.aborted === true)).toBe(false);
  });

  it("stops the run with an AbortError when a provider call sees it aborted", async () => {
    const controller = new AbortController();
    const provider = new RecordingProvider(undefined, { save: () => controller.abort(new Error("shutting down")) });
    const { foundry, log } = countedFoundry(3);
    usePersistence(foundry, provider, uniqueKeys());
    const error = await rejectionOf(foundry.forge({ signal: controller.signal }));
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe("AbortError");
    expect(log.runs).toEqual([1]);
  });
});
