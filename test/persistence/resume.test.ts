import { describe, it, expect } from "vitest";
import { createFoundry, createSmith, createWorkflow } from "../../src/index.js";
import { MemoryPersistenceProvider, usePersistence, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { countedFoundry, opNames, operationLog, runCounts } from "../support/counted-workflow.js";
import { RecordingProvider } from "../support/recording-provider.js";
import { snapshotFor, uniqueKeys } from "../support/run-snapshots.js";

const failOnceAt = (failing: number) => (index: number, attempt: number) => {
  if (index === failing && attempt === 1) throw new Error(`operation ${index} failed`);
};

describe("a clean run", () => {
  it("makes exactly one tryLoad, N saves and one delete, in that order", async () => {
    const provider = new RecordingProvider();
    const { foundry } = countedFoundry(4);
    usePersistence(foundry, provider, uniqueKeys());
    await foundry.forge();
    expect(provider.calls.map((record) => record.call)).toEqual(["tryLoad", "save", "save", "save", "save", "delete"]);
  });

  it("makes one more save, the claim, when a lease is set", async () => {
    const provider = new RecordingProvider();
    const { foundry } = countedFoundry(4);
    usePersistence(foundry, provider, { ...uniqueKeys(), lease: { ttlMs: 60_000 } });
    await foundry.forge();
    expect([provider.count("tryLoad"), provider.count("save"), provider.count("delete")]).toEqual([1, 5, 1]);
  });

  it("leaves no snapshot once it completes", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const { foundry } = countedFoundry(3);
    usePersistence(foundry, provider, keys);
    await foundry.forge();
    expect(provider.stored(keys)).toBeUndefined();
    expect(provider.inner.size).toBe(0);
  });

  it("resolves with the last operation's output", async () => {
    const { foundry } = countedFoundry(3);
    usePersistence(foundry, new MemoryPersistenceProvider(), uniqueKeys());
    await expect(foundry.forge()).resolves.toBe("out-2");
  });

  it("loads the snapshot once per run, before the first operation, never per operation", async () => {
    const log = operationLog();
    const provider = new RecordingProvider(undefined, { tryLoad: () => void log.events.push("tryLoad") });
    const { foundry } = countedFoundry(5, { log });
    usePersistence(foundry, provider, uniqueKeys());
    await foundry.forge();
    expect(log.events.filter((event) => event === "tryLoad")).toHaveLength(1);
    expect(log.events[0]).toBe("tryLoad");
    await foundry.forge();
    expect(provider.count("tryLoad")).toBe(2);
    expect(runCounts(log, 5)).toEqual([2, 2, 2, 2, 2]);
  });
});

describe("resuming from a stored snapshot", () => {
  it("skips the operations the snapshot records as completed and restores the properties", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    provider.seed(snapshotFor(keys, opNames(3), { nextOperationIndex: 1, lastOutput: "out-0", properties: { orderId: "A-1", reserved: true } }));
    const seenByOp1: unknown[] = [];
    const { foundry, log } = countedFoundry(3, {
      properties: { orderId: "A-1", reserved: false },
      onForge: (index, _, running) => void (index === 1 && seenByOp1.push({ ...running.properties })),
    });
    usePersistence(foundry, provider, keys);
    await foundry.forge();
    expect(runCounts(log, 3)).toEqual([0, 1, 1]);
    expect(seenByOp1).toEqual([{ orderId: "A-1", reserved: true }]);
    expect(foundry.properties).toEqual({ orderId: "A-1", reserved: true });
  });

  it("restores the stored properties over the foundry's, keeping properties the snapshot lacks", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    provider.seed(snapshotFor(keys, opNames(2), { nextOperationIndex: 1, properties: { total: 2 } }));
    const { foundry } = countedFoundry(2, { properties: { total: 0, fresh: "kept" } });
    usePersistence(foundry, provider, keys);
    await foundry.forge();
    expect(foundry.properties).toEqual({ total: 2, fresh: "kept" });
  });

  it("reports skipped operations as skipped and never as started or completed", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    provider.seed(snapshotFor(keys, opNames(4), { nextOperationIndex: 2, lastOutput: "out-1" }));
    const { foundry } = countedFoundry(4);
    const events: string[] = [];
    foundry.on("operationSkipped", (event) => events.push(`skipped:${event.index}:${event.operationName}`));
    foundry.on("operationStarted", (event) => events.push(`started:${event.index}`));
    foundry.on("operationCompleted", (event) => events.push(`completed:${event.index}`));
    usePersistence(foundry, provider, keys);
    await foundry.forge();
    expect(events).toEqual(["skipped:0:op-0", "skipped:1:op-1", "started:2", "completed:2", "started:3", "completed:3"]);
  });

  it("emits snapshotRestored once with the stored progress", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    provider.seed(snapshotFor(keys, opNames(3), { nextOperationIndex: 2, revision: 7 }));
    const { foundry } = countedFoundry(3);
    const restored: unknown[] = [];
    foundry.on("snapshotRestored", (event) => restored.push(event));
    usePersistence(foundry, provider, keys);
    await foundry.forge();
    expect(restored).toEqual([{ foundryExecutionId: keys.instanceId, workflowId: keys.workflowKey, nextOperationIndex: 2, status: "running", revision: 7 }]);
  });

  it("emits snapshotRestored for a compensation it resumes, whose restores see the stored properties", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const error = { name: "Error", message: "no courier", operationIndex: 1, operationName: "ship" };
    provider.seed(snapshotFor(keys, ["charge", "ship"], { status: "compensating", nextOperationIndex: 1, outputs: { 0: "pay-1" }, properties: { customer: "c-9" }, error, revision: 4 }));
    const seen: string[] = [];
    const workflow = createWorkflow("Counted")
      .withOperation("charge", () => "pay-1", (id: string, foundry) => void seen.push(`refund ${id} for ${String(foundry.properties.customer)}`))
      .withOperation("ship", () => "shipped")
      .build();
    const foundry = usePersistence(createFoundry("orders"), provider, keys);
    foundry.on("snapshotRestored", (event) => seen.push(`restored ${event.status} ${event.nextOperationIndex} r${event.revision}`));
    await expect(createSmith().forge(workflow, foundry)).rejects.toMatchObject({ name: "WorkflowCompensatedError" });
    expect(seen).toEqual(["restored compensating 1 r4", "refund pay-1 for c-9"]);
  });

  it("passes an absent stored lastOutput as undefined, not the run's input", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    provider.seed(snapshotFor(keys, opNames(2), { nextOperationIndex: 1 }));
    const { foundry, log } = countedFoundry(2);
    usePersistence(foundry, provider, keys);
    await foundry.forge({ input: "run input" });
    expect(log.inputs[1]).toEqual([undefined]);
    expect(log.inputs[0]).toBeUndefined();
  });

  it.each([
    { label: "undefined", value: undefined },
    { label: "0", value: 0 },
    { label: "an empty string", value: "" },
    { label: "false", value: false },
    { label: "null", value: null },
    { label: "an object", value: { lines: [1, 2], total: 3.5 } },
  ])("passes the stored lastOutput $label to the next operation after a failure", async ({ value }) => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const log = operationLog();
    const run = () => {
      const { foundry } = countedFoundry(2, { log, output: (index) => (index === 0 ? value : "done"), onForge: failOnceAt(1) });
      return usePersistence(foundry, provider, keys).forge({ input: "run input" });
    };
    await expect(run()).rejects.toThrow("operation 1 failed");
    await expect(run()).resolves.toBe("done");
    expect(log.runs).toEqual([1, 2]);
    expect(log.inputs[1]).toEqual([value, value]);
  });

  it("restores properties without touching any prototype", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const properties = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}') as Record<string, unknown>;
    provider.seed(snapshotFor(keys, opNames(2), { nextOperationIndex: 1, properties }));
    const objectPrototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    const { foundry, log } = countedFoundry(2);
    usePersistence(foundry, provider, keys);
    await foundry.forge();
    expect(log.runs).toEqual([undefined, 1]);
    expect(({} as any).polluted).toBeUndefined();
    expect(({} as any).x).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(objectPrototypeKeys);
    expect(Object.getPrototypeOf(foundry.properties)).toBe(Object.prototype);
    expect((foundry.properties as any).polluted).toBeUndefined();
    expect(({} as any).constructor).toBe(Object);
  });

  it("completes a flaky workflow on the second run without re-running completed operations", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const log = operationLog();
    const run = () => {
      const { foundry } = countedFoundry(4, { log, onForge: failOnceAt(2) });
      return usePersistence(foundry, provider, keys).forge();
    };
    await expect(run()).rejects.toThrow("operation 2 failed");
    await expect(run()).resolves.toBe("out-3");
    expect(runCounts(log, 4)).toEqual([1, 1, 2, 1]);
    expect(provider.stored(keys)).toBeUndefined();
  });

  it("is not broken by snapshot listeners that throw", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    provider.seed(snapshotFor(keys, opNames(3), { nextOperationIndex: 1, lastOutput: "out-0" }));
    const { foundry, log } = countedFoundry(3);
    for (const event of ["snapshotRestored", "snapshotSaved", "snapshotDeleted"] as const) {
      foundry.on(event, () => {
        throw new Error(`${event} listener broke`);
      });
    }
    usePersistence(foundry, provider, keys);
    await expect(foundry.forge()).resolves.toBe("out-2");
    expect(runCounts(log, 3)).toEqual([0, 1, 1]);
    expect(provider.stored(keys)).toBeUndefined();
  });

  it("treats a provider returning null from tryLoad as no snapshot", async () => {
    const memory = new MemoryPersistenceProvider();
    const provider: WorkflowPersistenceProvider = {
      save: (snapshot, signal) => memory.save(snapshot, signal),
      tryLoad: () => null,
      delete: (instance, workflow, signal) => memory.delete(instance, workflow, signal),
    };
    const { foundry, log } = countedFoundry(3);
    usePersistence(foundry, provider, uniqueKeys());
    await expect(foundry.forge()).resolves.toBe("out-2");
    expect(log.runs).toEqual([1, 1, 1]);
  });
});

describe("recording a failure", () => {
  it("keeps nextOperationIndex at the failed operation with status failed and the error", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const { foundry } = countedFoundry(3, {
      onForge: (index) => {
        if (index === 1) throw new RangeError("card declined");
      },
    });
    usePersistence(foundry, provider, keys);
    await expect(foundry.forge()).rejects.toThrow("card declined");
    const stored = provider.stored(keys);
    expect(stored?.nextOperationIndex).toBe(1);
    expect(stored?.status).toBe("failed");
    expect(stored?.error).toEqual({ name: "RangeError", message: "card declined", operationIndex: 1, operationName: "op-1", stack: expect.stringMatching(/^RangeError: card declined\n/) });
    expect(stored?.lastOutput).toBe("out-0");
  });

  it("leaves the last checkpoint untouched when persistOnFailure is false", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const { foundry } = countedFoundry(3, { onForge: failOnceAt(2) });
    usePersistence(foundry, provider, { ...keys, persistOnFailure: false });
    await expect(foundry.forge()).rejects.toThrow("operation 2 failed");
    expect(provider.count("save")).toBe(2);
    expect(provider.stored(keys)).toEqual(provider.saves[1]);
    expect(provider.stored(keys)?.status).toBe("running");
    expect(provider.stored(keys)?.nextOperationIndex).toBe(2);
    expect(provider.stored(keys)?.error).toBeUndefined();
  });
});
