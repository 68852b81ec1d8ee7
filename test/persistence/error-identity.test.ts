import { describe, expect, it } from "vitest";
import {
  MemoryPersistenceProvider,
  SnapshotConflictError,
  SnapshotCorruptedError,
  WorkflowDefinitionMismatchError,
  createRecoveryCoordinator,
  usePersistence,
  type WorkflowPersistenceProvider,
} from "../../src/persistence/index.js";
import { countedFoundry, opNames, runCounts } from "../support/counted-workflow.js";
import { rejectionOf } from "../support/promises.js";
import { snapshotFor, uniqueKeys } from "../support/run-snapshots.js";

const tag = /\[workflowforge:persistence\]/g;

function providerWhoseLoadThrows(error: Error): WorkflowPersistenceProvider {
  const memory = new MemoryPersistenceProvider();
  return { save: (s) => memory.save(s), delete: (a, b) => memory.delete(a, b), tryLoad: () => Promise.reject(error) };
}

describe("one problem is one error, whichever provider reports it", () => {
  it("passes a provider's own SnapshotCorruptedError through unwrapped, with one message", async () => {
    const keys = uniqueKeys();
    const corrupted = new SnapshotCorruptedError({ foundryExecutionId: keys.instanceId, workflowId: keys.workflowKey }, "checksum mismatch");
    const { foundry } = countedFoundry(1);
    usePersistence(foundry, providerWhoseLoadThrows(corrupted), keys);
    const error = await rejectionOf(foundry.forge());
    expect(error).toBe(corrupted);
    expect((error as Error).message.match(tag)).toHaveLength(1);
  });

  it("passes a provider's conflict through with the provider's own account of it", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    provider.save(snapshotFor(keys, opNames(1), { revision: 1 }));
    const { foundry } = countedFoundry(1);
    // Someone else saves revision 2 while this run's operation runs.
    foundry.on("operationStarted", () => provider.save(snapshotFor(keys, opNames(1), { revision: 2 })));
    usePersistence(foundry, provider, keys);
    const error = await rejectionOf(foundry.forge());
    expect(error).toBeInstanceOf(SnapshotConflictError);
    expect((error as Error).message).toMatch(/the stored revision is 2/);
    expect((error as Error).message.match(tag)).toHaveLength(1);
  });
});

describe("errors name the stage that failed, not the first operation", () => {
  it("reports a throwing migration function as a definition mismatch, with the cause", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    provider.save(snapshotFor(keys, opNames(5)));
    const cause = new Error("cannot map step 3");
    const { foundry, log } = countedFoundry(2);
    usePersistence(foundry, provider, {
      ...keys,
      onDefinitionMismatch: () => {
        throw cause;
      },
    });
    const error = await rejectionOf(foundry.forge());
    expect(error).toBeInstanceOf(WorkflowDefinitionMismatchError);
    expect((error as Error).message).toMatch(/the migration function threw: cannot map step 3/);
    expect((error as Error).cause).toBe(cause);
    expect(runCounts(log, 2)).toEqual([0, 0]);
  });

  it("reports a tryLoad result whose getter throws as a corrupted snapshot", async () => {
    const keys = uniqueKeys();
    const poisoned = Object.defineProperty({ ...snapshotFor(keys, opNames(1)) }, "nextOperationIndex", {
      enumerable: true,
      get() {
        throw new Error("getter exploded");
      },
    });
    const provider: WorkflowPersistenceProvider = { save: () => undefined, delete: () => undefined, tryLoad: () => poisoned };
    const { foundry, log } = countedFoundry(1);
    usePersistence(foundry, provider, keys);
    const error = await rejectionOf(foundry.forge());
    expect(error).toBeInstanceOf(SnapshotCorruptedError);
    expect((error as Error).message).toMatch(/getter exploded/);
    expect(runCounts(log, 1)).toEqual([0]);
  });

  it("refuses a recovery coordinator whose smith is not a smith", () => {
    const provider = new MemoryPersistenceProvider();
    expect(() => createRecoveryCoordinator({ provider, resolveWorkflow: () => undefined, smith: 5 as never })).toThrow(/options\.smith must be a smith/);
  });
});


describe("the keys an error names", () => {
  it("are JSON strings, so keys that differ never read the same", () => {
    const messageFor = (foundryExecutionId: string): string => new SnapshotCorruptedError({ foundryExecutionId, workflowId: 'K"1' }, "junk").message;
    expect(messageFor("order-42")).toBe('[workflowforge:persistence] stored snapshot for instance "order-42" / workflow "K\\"1" is corrupted: junk');
    const lookAlikes = ["lone\uD800", "lone\\ud800", "a\tb", "a\\tb", "a b"];
    expect(new Set(lookAlikes.map(messageFor)).size).toBe(lookAlikes.length);
    expect(messageFor("lone\uD800")).toContain('instance "lone\\ud800"');
    expect(messageFor("lone\\ud800")).toContain('instance "lone\\\\ud800"');
  });
});
