import { describe, it, expect, vi } from "vitest";
import { createFoundry, createSmith } from "../../src/index.js";
import { WorkflowDefinitionMismatchError, usePersistence, type SnapshotMigration, type WorkflowExecutionSnapshot } from "../../src/persistence/index.js";
import { definitionFingerprint } from "../../src/persistence/snapshot.js";
import { countedFoundry, countedWorkflow, operationLog, runCounts } from "../support/counted-workflow.js";
import { rejectionOf } from "../support/promises.js";
import { RecordingProvider } from "../support/recording-provider.js";
import { uniqueKeys, type Keys } from "../support/run-snapshots.js";

const original = ["reserve", "charge", "ship"];

/** Stores what a run of `original` that failed at "charge" leaves: progress 1, properties, revision 2. */
async function storedByOriginal(provider: RecordingProvider, keys: Keys): Promise<WorkflowExecutionSnapshot> {
  const { foundry } = countedFoundry(3, {
    names: original,
    properties: { orderId: "A-1" },
    onForge: (index) => {
      if (index === 1) throw new Error("charge failed");
    },
  });
  usePersistence(foundry, provider, keys);
  await expect(foundry.forge()).rejects.toThrow("charge failed");
  const stored = provider.stored(keys);
  if (stored === undefined) throw new Error("the original run stored nothing");
  provider.calls.length = 0;
  return stored;
}

const renamedOrMoved = "as many operations, renamed or in another order (the record keeps no names, so which is not known)";
const drifts = [
  { change: "an operation added", names: [...original, "notify"], told: "stored 3 operations", what: "1 operation added, or more changed" },
  { change: "an operation removed", names: ["reserve", "charge"], told: "current 2", what: "1 operation removed, or more changed" },
  { change: "operations reordered", names: ["charge", "reserve", "ship"], told: "current 3", what: renamedOrMoved },
  { change: "an operation renamed", names: ["reserve", "authorize", "ship"], told: "current 3", what: renamedOrMoved },
];

describe("definition drift", () => {
  it.each(drifts)("rejects a snapshot after $change with WorkflowDefinitionMismatchError before any operation runs, saying what changed", async ({ names, told, what }) => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const stored = await storedByOriginal(provider, keys);
    const { foundry, log } = countedFoundry(names.length, { names });
    usePersistence(foundry, provider, keys);
    const error = await rejectionOf(foundry.forge());
    expect(error).toBeInstanceOf(WorkflowDefinitionMismatchError);
    expect((error as WorkflowDefinitionMismatchError).code).toBe("DEFINITION_MISMATCH");
    expect((error as Error).message).toContain(keys.instanceId);
    expect((error as Error).message).toContain(told);
    expect((error as Error).message).toContain(`: ${what}.`);
    expect(runCounts(log, names.length)).toEqual(names.map(() => 0));
    expect(provider.calls.map((record) => record.call)).toEqual(["tryLoad"]);
    expect(provider.stored(keys)).toEqual(stored);
  });

  it("rejects a snapshot saved by another version of a built workflow before any operation runs", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const crash = new RecordingProvider(provider.inner, {
      save: (snapshot) => {
        if (snapshot.nextOperationIndex === 2) throw new Error("process died");
      },
    });
    const v1 = countedWorkflow(3, { name: "Order", version: "1" }).workflow;
    await expect(createSmith().forge(v1, usePersistence(createFoundry("Host"), crash, keys))).rejects.toThrow();
    expect(provider.stored(keys)?.workflowVersion).toBe("1");

    const { workflow: v2, log } = countedWorkflow(3, { name: "Order", version: "2" });
    const error = await rejectionOf(createSmith().forge(v2, usePersistence(createFoundry("Host"), provider, keys)));
    expect(error).toBeInstanceOf(WorkflowDefinitionMismatchError);
    expect((error as Error).message).toContain(': the version was "1", and is "2".');
    expect(runCounts(log, 3)).toEqual([0, 0, 0]);
  });

  it("rejects a snapshot whose operationCount differs even when the fingerprint matches", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const stored = await storedByOriginal(provider, keys);
    provider.seed({ ...stored, operationCount: 4, revision: stored.revision + 1 });
    const { foundry, log } = countedFoundry(3, { names: original });
    usePersistence(foundry, provider, keys);
    await expect(foundry.forge()).rejects.toBeInstanceOf(WorkflowDefinitionMismatchError);
    expect(log.runs).toEqual([]);
  });

  it('with "restart" discards the snapshot, runs everything and continues the stored revision', async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const stored = await storedByOriginal(provider, keys);
    const names = [...original, "notify"];
    const { foundry, log } = countedFoundry(names.length, { names });
    usePersistence(foundry, provider, { ...keys, onDefinitionMismatch: "restart" });
    await expect(foundry.forge()).resolves.toBe("out-3");
    expect(runCounts(log, 4)).toEqual([1, 1, 1, 1]);
    expect(foundry.properties).toEqual({});
    expect(provider.saves[0]).toMatchObject({ revision: stored.revision + 1, nextOperationIndex: 1, operationCount: 4 });
    expect(provider.stored(keys)).toBeUndefined();
  });

  it("passes the old snapshot and the workflow to a migration and adopts the progress and properties it returns", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const stored = await storedByOriginal(provider, keys);
    const names = ["reserve", "authorize", "charge", "ship"];
    const migrate = vi.fn<SnapshotMigration>((snapshot) => ({
      ...snapshot,
      nextOperationIndex: 2,
      lastOutput: "authorized",
      properties: { ...snapshot.properties, migrated: true },
    }));
    const log = operationLog();
    const { workflow } = countedWorkflow(names.length, { names, log, name: "Order" });
    const foundry = usePersistence(createFoundry("Host"), provider, { ...keys, onDefinitionMismatch: migrate });
    await createSmith().forge(workflow, foundry);

    expect(migrate).toHaveBeenCalledTimes(1);
    expect(migrate.mock.calls[0]?.[0]).toEqual(stored);
    expect(migrate.mock.calls[0]?.[1]).toBe(workflow);
    expect(runCounts(log, 4)).toEqual([0, 0, 1, 1]);
    expect(log.inputs[2]).toEqual(["authorized"]);
    expect(foundry.properties).toEqual({ orderId: "A-1", migrated: true });
    const firstSave = provider.saves[0];
    expect(firstSave).toMatchObject({
      nextOperationIndex: 3,
      operationCount: 4,
      definitionFingerprint: definitionFingerprint(undefined, names),
      revision: stored.revision + 1,
    });
  });

  it("starts fresh when the migration returns undefined", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const stored = await storedByOriginal(provider, keys);
    const migrate = vi.fn(() => undefined);
    const names = ["reserve", "charge", "ship", "notify"];
    const { foundry, log } = countedFoundry(names.length, { names });
    usePersistence(foundry, provider, { ...keys, onDefinitionMismatch: migrate });
    await foundry.forge();
    expect(migrate).toHaveBeenCalledTimes(1);
    expect(runCounts(log, 4)).toEqual([1, 1, 1, 1]);
    expect(foundry.properties).toEqual({});
    expect(provider.saves[0]?.revision).toBe(stored.revision + 1);
  });

  it.for([
    { what: "the stored snapshot unchanged", migrate: (snapshot: WorkflowExecutionSnapshot) => snapshot, reason: /returned the stored snapshot unchanged/ },
    { what: "a progress past the last operation", migrate: (snapshot: WorkflowExecutionSnapshot) => ({ ...snapshot, nextOperationIndex: 9 }), reason: /nextOperationIndex 9, which does not fit the current 4 operations/ },
    { what: "a fractional progress", migrate: (snapshot: WorkflowExecutionSnapshot) => ({ ...snapshot, nextOperationIndex: 1.5 }), reason: /nextOperationIndex 1\.5/ },
    { what: "an output of an operation not yet complete", migrate: (snapshot: WorkflowExecutionSnapshot) => ({ ...snapshot, outputs: { 2: "x" } }), reason: /an output for operation 2, which is not complete/ },
  ])("refuses a migration that returns $what, before anything runs", async ({ migrate, reason }) => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    await storedByOriginal(provider, keys);
    const names = ["reserve", "audit", "charge", "ship"];
    const { foundry, log } = countedFoundry(names.length, { names });
    usePersistence(foundry, provider, { ...keys, onDefinitionMismatch: migrate });
    const error = await rejectionOf(foundry.forge());
    expect(error).toBeInstanceOf(WorkflowDefinitionMismatchError);
    expect((error as Error).message).toMatch(reason);
    expect(runCounts(log, 4)).toEqual([0, 0, 0, 0]);
  });

  it("accepts a copy of the stored snapshot: its author says no completed operation moved", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    await storedByOriginal(provider, keys);
    const names = [...original, "notify"];
    const { foundry, log } = countedFoundry(names.length, { names });
    usePersistence(foundry, provider, { ...keys, onDefinitionMismatch: (snapshot) => ({ ...snapshot }) });
    await foundry.forge();
    expect(runCounts(log, 4)).toEqual([0, 1, 1, 1]);
  });

  it("consults neither restart nor the migration when the definition matches", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    await storedByOriginal(provider, keys);
    const migrate = vi.fn(() => undefined);
    const { foundry, log } = countedFoundry(3, { names: original });
    usePersistence(foundry, provider, { ...keys, onDefinitionMismatch: migrate });
    await foundry.forge();
    expect(migrate).not.toHaveBeenCalled();
    expect(runCounts(log, 3)).toEqual([0, 1, 1]);
  });
});

describe("definitionFingerprint", () => {
  // Stored snapshots carry it: a release that computed it differently would refuse every
  // snapshot written before it as a changed definition.
  it("stays the same from release to release", () => {
    expect(definitionFingerprint(undefined, ["reserve", "charge", "ship"])).toBe("fnv1a:a48f6ea07728e65e");
    expect(definitionFingerprint("2", ["a"])).toBe("fnv1a:9caf88d00867815d");
    expect(definitionFingerprint(undefined, [])).toBe("fnv1a:5f74b2a2d7a3f1df");
  });
});
