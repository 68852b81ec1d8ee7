import { describe, expect, it } from "vitest";
import { MemoryPersistenceProvider, SnapshotConflictError, createRecoveryCoordinator, usePersistence } from "../../src/persistence/index.js";
import { countedFoundry, countedWorkflow, runCounts } from "../support/counted-workflow.js";
import { deferred } from "../support/promises.js";
import { RecordingProvider } from "../support/recording-provider.js";
import { uniqueKeys } from "../support/run-snapshots.js";

describe("one process runs one instance once at a time", () => {
  it("refuses at once a second leased run through another provider object on the same store, with the default owner", async () => {
    const store = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    const started = deferred();
    const release = deferred();
    const first = countedFoundry(2, { onForge: (index) => (index === 0 ? (started.resolve(), release.promise) : undefined) });
    const second = countedFoundry(2);
    usePersistence(first.foundry, new RecordingProvider(store), { ...keys, lease: { ttlMs: 60_000 } });
    usePersistence(second.foundry, new RecordingProvider(store), { ...keys, lease: { ttlMs: 60_000 } });
    const running = first.foundry.forge();
    await started.promise;
    await expect(second.foundry.forge()).rejects.toBeInstanceOf(SnapshotConflictError);
    release.resolve();
    await running;
    expect(runCounts(second.log, 2)).toEqual([0, 0]);
    expect(runCounts(first.log, 2)).toEqual([1, 1]);
  });

  it("lets two coordinators with their own providers on one store run each instance once", async () => {
    const store = new MemoryPersistenceProvider();
    const started = deferred();
    const release = deferred();
    const { workflow, log } = countedWorkflow(2, { name: "Shared", version: "1", onForge: (index) => (index === 0 ? (started.resolve(), release.promise) : undefined) });
    const coordinator = () => createRecoveryCoordinator({ provider: new RecordingProvider(store), resolveWorkflow: () => workflow, retry: { attempts: 1 } });
    const [a, b] = [coordinator(), coordinator()];
    const { instanceId, workflowKey } = await a.enqueue(workflow, { instanceId: uniqueKeys().instanceId });
    const first = a.resume(instanceId, workflowKey);
    await started.promise;
    const second = await b.resume(instanceId, workflowKey);
    release.resolve();
    const firstOutcome = await first;
    expect(firstOutcome).toMatchObject({ status: "resumed" });
    expect(second).toMatchObject({ status: "skipped", reason: "claimed" });
    expect(runCounts(log, 2)).toEqual([1, 1]);
  });
});
