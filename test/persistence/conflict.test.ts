import { afterEach, describe, it, expect, vi } from "vitest";
import { createFoundry, createSmith } from "../../src/index.js";
import { MemoryPersistenceProvider, PersistenceError, SnapshotConflictError, usePersistence } from "../../src/persistence/index.js";
import { processOwner } from "../../src/persistence/options.js";
import { countedFoundry, countedWorkflow, opNames, runCounts } from "../support/counted-workflow.js";
import { deferred, rejectionOf } from "../support/promises.js";
import { RecordingProvider } from "../support/recording-provider.js";
import { snapshotFor, uniqueKeys } from "../support/run-snapshots.js";

afterEach(() => {
  vi.useRealTimers();
});

describe("revisions", () => {
  it("increments the revision on every save: 1, 2, 3 …", async () => {
    const provider = new RecordingProvider();
    const { foundry } = countedFoundry(5);
    usePersistence(foundry, provider, uniqueKeys());
    await foundry.forge();
    expect(provider.saves.map((snapshot) => snapshot.revision)).toEqual([1, 2, 3, 4, 5]);
  });

  it("continues from the stored revision when resuming", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    provider.seed(snapshotFor(keys, opNames(3), { nextOperationIndex: 1, revision: 4 }));
    const { foundry } = countedFoundry(3);
    usePersistence(foundry, provider, keys);
    await foundry.forge();
    expect(provider.saves.map((snapshot) => snapshot.revision)).toEqual([5, 6]);
  });
});

describe("two runs of the same instance", () => {
  it("stops the run whose save conflicts with SnapshotConflictError before it runs another operation", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    const { foundry, log } = countedFoundry(3, {
      onForge: (index) => {
        // Another process checkpoints the instance while this run is inside operation 0.
        const stored = provider.tryLoad(keys.instanceId, keys.workflowKey);
        if (index === 0) provider.save({ ...snapshotFor(keys, opNames(3)), revision: (stored?.revision ?? 0) + 1, owner: "other" });
      },
    });
    const error = await rejectionOf(usePersistence(foundry, provider, keys).forge());
    expect(error).toBeInstanceOf(SnapshotConflictError);
    expect(error).toBeInstanceOf(PersistenceError);
    expect((error as SnapshotConflictError).code).toBe("SNAPSHOT_CONFLICT");
    expect(runCounts(log, 3)).toEqual([1, 0, 0]);
  });

  it("refuses at once a second run of the instance in this process, also without a lease", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    const inside = deferred();
    const release = deferred();
    const a = countedFoundry(3, { onForge: (index) => (index === 0 ? (inside.resolve(), release.promise) : undefined) });
    const b = countedFoundry(3);
    const runA = usePersistence(a.foundry, provider, keys).forge();
    await inside.promise;
    await expect(usePersistence(b.foundry, provider, keys).forge()).rejects.toThrow(/another run in this process is running this instance/);
    release.resolve();
    await expect(runA).resolves.toBe("out-2");
    expect(runCounts(b.log, 3)).toEqual([0, 0, 0]);
    expect(runCounts(a.log, 3)).toEqual([1, 1, 1]);
  });

  it("writes no failure record for the conflicting run", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const { foundry } = countedFoundry(3, {
      onForge: (index) => {
        // Another process checkpoints the instance while this run is inside operation 1.
        const stored = provider.stored(keys);
        if (index === 1 && stored !== undefined) provider.inner.save({ ...stored, revision: stored.revision + 1, owner: "other" });
      },
    });
    usePersistence(foundry, provider, keys);
    await expect(foundry.forge()).rejects.toBeInstanceOf(SnapshotConflictError);
    expect(provider.saves.map((snapshot) => snapshot.status)).toEqual(["running", "running"]);
    expect(provider.stored(keys)).toMatchObject({ owner: "other", revision: 2 });
  });
});

describe("leases", () => {
  it("saves the claim before the first operation with owner and leaseExpiresAt", async () => {
    const events: string[] = [];
    const provider = new RecordingProvider(undefined, { save: (snapshot) => void events.push(`save:${snapshot.nextOperationIndex}`) });
    const { foundry } = countedFoundry(2, { onForge: (index) => void events.push(`forge:${index}`) });
    usePersistence(foundry, provider, { ...uniqueKeys(), owner: "worker-1", lease: { ttlMs: 30_000 } });
    const before = Date.now();
    await foundry.forge();
    expect(events.slice(0, 2)).toEqual(["save:0", "forge:0"]);
    const claim = provider.saves[0];
    expect(claim).toMatchObject({ status: "running", owner: "worker-1", nextOperationIndex: 0, revision: 1 });
    const expires = Date.parse(claim?.leaseExpiresAt ?? "");
    expect(expires).toBeGreaterThanOrEqual(before + 30_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 30_000);
  });

  it("renews the claim with each checkpoint", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2026-01-01T00:00:00.000Z"));
    const provider = new RecordingProvider();
    const { foundry } = countedFoundry(3, { onForge: () => void vi.setSystemTime(Date.now() + 1_000) });
    usePersistence(foundry, provider, { ...uniqueKeys(), owner: "worker-1", lease: { ttlMs: 5_000 } });
    await foundry.forge();
    expect(provider.saves.map((snapshot) => snapshot.leaseExpiresAt)).toEqual([
      "2026-01-01T00:00:05.000Z",
      "2026-01-01T00:00:06.000Z",
      "2026-01-01T00:00:07.000Z",
      "2026-01-01T00:00:08.000Z",
    ]);
    expect(provider.saves.every((snapshot) => snapshot.owner === "worker-1")).toBe(true);
  });

  it("claims with this process's owner id when no owner is given", async () => {
    const provider = new RecordingProvider();
    const { foundry } = countedFoundry(1);
    usePersistence(foundry, provider, { ...uniqueKeys(), lease: { ttlMs: 1_000 } });
    await foundry.forge();
    expect(processOwner).not.toBe("");
    expect(provider.saves[0]?.owner).toBe(processOwner);
  });

  it("fails at once with SnapshotConflictError and runs nothing while another owner's lease is live", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const leaseExpiresAt = new Date(Date.now() + 60_000).toISOString();
    const claimed = snapshotFor(keys, opNames(3), { nextOperationIndex: 1, owner: "worker-2", leaseExpiresAt });
    provider.seed(claimed);
    const { foundry, log } = countedFoundry(3);
    usePersistence(foundry, provider, { ...keys, owner: "worker-1", lease: { ttlMs: 30_000 } });
    const error = await rejectionOf(foundry.forge());
    expect(error).toBeInstanceOf(SnapshotConflictError);
    expect((error as Error).message).toContain("worker-2");
    expect(log.runs).toEqual([]);
    expect(provider.count("save")).toBe(0);
    expect(provider.stored(keys)).toEqual(claimed);
  });

  it("fails at once and restores nothing while another owner's lease on a compensation is live", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const leaseExpiresAt = new Date(Date.now() + 60_000).toISOString();
    const error = { name: "Error", message: "declined", operationIndex: 2, operationName: "op-2" };
    const compensating = snapshotFor(keys, opNames(3), { status: "compensating", nextOperationIndex: 2, outputs: { 0: "a", 1: "b" }, error, owner: "worker-2", leaseExpiresAt });
    provider.seed(compensating);
    const { workflow, log } = countedWorkflow(3, { restore: () => true });
    const foundry = usePersistence(createFoundry("Host"), provider, { ...keys, owner: "worker-1", lease: { ttlMs: 30_000 } });
    await expect(createSmith().forge(workflow, foundry)).rejects.toBeInstanceOf(SnapshotConflictError);
    expect(log.events).toEqual([]);
    expect(provider.count("save")).toBe(0);
    expect(provider.stored(keys)).toEqual(compensating);
  });

  it("refuses to start an instance that a live run of another owner has claimed", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    const gate = deferred();
    const holding = deferred();
    const first = countedFoundry(2, {
      onForge: async () => {
        holding.resolve();
        await gate.promise;
      },
    });
    usePersistence(first.foundry, provider, { ...keys, owner: "worker-1", lease: { ttlMs: 60_000 } });
    const running = first.foundry.forge();
    await holding.promise;

    const second = countedFoundry(2);
    usePersistence(second.foundry, provider, { ...keys, owner: "worker-2", lease: { ttlMs: 60_000 } });
    await expect(second.foundry.forge()).rejects.toBeInstanceOf(SnapshotConflictError);
    expect(second.log.runs).toEqual([]);

    gate.resolve();
    await expect(running).resolves.toBe("out-1");
  });

  it("takes over an expired lease and resumes from the stored progress", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const leaseExpiresAt = new Date(Date.now() - 1_000).toISOString();
    provider.seed(snapshotFor(keys, opNames(3), { nextOperationIndex: 1, owner: "worker-2", leaseExpiresAt, revision: 3 }));
    const { foundry, log } = countedFoundry(3);
    usePersistence(foundry, provider, { ...keys, owner: "worker-1", lease: { ttlMs: 30_000 } });
    await expect(foundry.forge()).resolves.toBe("out-2");
    expect(runCounts(log, 3)).toEqual([0, 1, 1]);
    expect(provider.saves[0]).toMatchObject({ owner: "worker-1", revision: 4, nextOperationIndex: 1 });
    expect(Date.parse(provider.saves[0]?.leaseExpiresAt ?? "")).toBeGreaterThan(Date.now());
  });

  it("resumes its own claim even while the lease is live", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const leaseExpiresAt = new Date(Date.now() + 60_000).toISOString();
    provider.seed(snapshotFor(keys, opNames(3), { nextOperationIndex: 2, owner: "worker-1", leaseExpiresAt }));
    const { foundry, log } = countedFoundry(3);
    usePersistence(foundry, provider, { ...keys, owner: "worker-1", lease: { ttlMs: 30_000 } });
    await foundry.forge();
    expect(runCounts(log, 3)).toEqual([0, 0, 1]);
  });

  it("refuses a second leased run of one instance in this process at once, whatever its owner and provider object", async () => {
    const store = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    const loaded = deferred();
    const release = deferred();
    const a = countedFoundry(2, { onForge: () => release.promise });
    const b = countedFoundry(2);
    usePersistence(a.foundry, new RecordingProvider(store, { tryLoad: () => loaded.resolve() }), { ...keys, owner: "worker-a", lease: { ttlMs: 60_000 } });
    usePersistence(b.foundry, new RecordingProvider(store), { ...keys, owner: "worker-b", lease: { ttlMs: 60_000 } });
    const first = a.foundry.forge();
    await loaded.promise;
    await expect(b.foundry.forge()).rejects.toThrow(/another run in this process is running this instance/);
    release.resolve();
    await first;
    expect(runCounts(b.log, 2)).toEqual([0, 0]);
    expect(runCounts(a.log, 2)).toEqual([1, 1]);
  });
});
