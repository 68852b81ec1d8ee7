import { describe, it, expect } from "vitest";
import { defaultSnapshotCodec, SnapshotCorruptedError, usePersistence, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { countedFoundry, opNames, runCounts } from "../support/counted-workflow.js";
import { rejectionOf } from "../support/promises.js";
import { snapshotFor, uniqueKeys } from "../support/run-snapshots.js";

const keys = uniqueKeys("wrong-shape");
const stored = snapshotFor(keys, opNames(3), { nextOperationIndex: 1 });
const hint = /tryLoad \(or a codec's decode\) must return the decoded snapshot object that save received, not a row or the encoded text/;

// What a run reports when the provider's tryLoad returns `value`; nothing may run.
async function messageFor(value: unknown): Promise<string> {
  const provider: WorkflowPersistenceProvider = { save: () => undefined, tryLoad: () => value as undefined, delete: () => undefined };
  const { foundry, log } = countedFoundry(3);
  usePersistence(foundry, provider, keys);
  const error = await rejectionOf(foundry.forge());
  expect(error).toBeInstanceOf(SnapshotCorruptedError);
  expect(runCounts(log, 3)).toEqual([0, 0, 0]);
  return (error as SnapshotCorruptedError).message;
}

describe("what a tryLoad of the wrong shape is told", () => {
  it("lists every required field that { foo: 1 } lacks, and says what tryLoad must return", async () => {
    const message = await messageFor({ foo: 1 });
    expect(message).toContain(
      "it is not a snapshot: missing formatVersion, foundryExecutionId, workflowId, workflowName, definitionFingerprint, operationCount, nextOperationIndex, properties, status, revision, createdAt, updatedAt;",
    );
    expect(message).toMatch(hint);
    expect(message).not.toContain("other keys");
  });

  it("lists only the fields a database row lacks", async () => {
    const row = { instance_id: stored.foundryExecutionId, workflow_id: stored.workflowId, revision: 2, status: "running", data: defaultSnapshotCodec.encode(stored) };
    const message = await messageFor(row);
    expect(message).toContain("missing formatVersion, foundryExecutionId, workflowId, workflowName, definitionFingerprint, operationCount, nextOperationIndex, properties, createdAt, updatedAt;");
    expect(message).toMatch(hint);
  });

  it("says the encoded text is not the snapshot object", async () => {
    const message = await messageFor(defaultSnapshotCodec.encode(stored));
    expect(message).toContain("expected an object, got a string");
    expect(message).toMatch(hint);
  });

  it("still names the other keys a whole snapshot carries, without a list of missing fields", async () => {
    const message = await messageFor({ ...stored, foundryExecutionId: "someone-else" });
    expect(message).toContain(`it carries other keys (instance "someone-else" / workflow ${JSON.stringify(stored.workflowId)})`);
    expect(message).not.toContain("missing");
  });

  it("reports properties that cannot be read as a corrupted record before any operation, leaving the foundry's bag as it was", async () => {
    const throwingGetter = Object.defineProperty({}, "total", { enumerable: true, get: () => { throw new Error("getter"); } });
    const throwingProxy = new Proxy({}, { ownKeys: () => { throw new Error("ownKeys"); } });
    for (const properties of [throwingGetter, throwingProxy]) {
      const provider: WorkflowPersistenceProvider = { save: () => undefined, tryLoad: () => ({ ...stored, properties }), delete: () => undefined };
      const { foundry, log } = countedFoundry(3);
      foundry.properties.kept = "initial";
      usePersistence(foundry, provider, keys);
      const error = await rejectionOf(foundry.forge());
      expect(error).toBeInstanceOf(SnapshotCorruptedError);
      expect((error as SnapshotCorruptedError).message).toMatch(/its properties cannot be read: (getter|ownKeys)/);
      expect(runCounts(log, 3)).toEqual([0, 0, 0]);
      expect(foundry.properties).toEqual({ kept: "initial" });
    }
  });
});
