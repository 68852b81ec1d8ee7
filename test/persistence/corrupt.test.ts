import { describe, it, expect } from "vitest";
import { SnapshotCorruptedError, usePersistence, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { countedFoundry, opNames } from "../support/counted-workflow.js";
import { rejectionOf } from "../support/promises.js";
import { snapshotFor, uniqueKeys, type Keys } from "../support/run-snapshots.js";

const keys: Keys = uniqueKeys("corrupt");
const valid = snapshotFor(keys, opNames(3), { nextOperationIndex: 1 });

function without(field: keyof typeof valid): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...valid };
  delete copy[field];
  return copy;
}

const corrupt = [
  { what: "a string", value: "{\"formatVersion\":1}" },
  { what: "a number", value: 42 },
  { what: "an array", value: [valid] },
  { what: "an empty object", value: {} },
  { what: "an object missing properties", value: without("properties") },
  { what: "an object missing nextOperationIndex", value: without("nextOperationIndex") },
  { what: "an object missing status", value: without("status") },
  { what: "an object missing revision", value: without("revision") },
  { what: "an object missing definitionFingerprint", value: without("definitionFingerprint") },
  { what: "formatVersion 2", value: { ...valid, formatVersion: 2 } },
  { what: "nextOperationIndex past operationCount", value: { ...valid, nextOperationIndex: 4 } },
  { what: "a negative nextOperationIndex", value: { ...valid, nextOperationIndex: -1 } },
  { what: "an unknown status", value: { ...valid, status: "paused" } },
  { what: "properties that are not an object", value: { ...valid, properties: "orderId=A-1" } },
  { what: "an error record missing its fields", value: { ...valid, status: "failed", error: { message: "boom" } } },
  { what: "an owner that is not a string", value: { ...valid, owner: 42 } },
  { what: "a leaseExpiresAt that is not a string", value: { ...valid, owner: "other", leaseExpiresAt: 1_900_000_000_000 } },
  { what: "a snapshot for another instance", value: { ...valid, foundryExecutionId: "someone-else" } },
  { what: "a snapshot for another workflow", value: { ...valid, workflowId: "OtherWorkflow-v1" } },
];

function returning(value: unknown) {
  const calls: string[] = [];
  const provider: WorkflowPersistenceProvider = {
    save: () => void calls.push("save"),
    tryLoad: () => value as undefined,
    delete: () => void calls.push("delete"),
  };
  return { provider, calls };
}

describe("corrupt snapshots", () => {
  it("accepts the valid snapshot the corrupt cases are derived from", async () => {
    const { provider } = returning(valid);
    const { foundry, log } = countedFoundry(3);
    usePersistence(foundry, provider, keys);
    await foundry.forge();
    expect(log.runs).toEqual([undefined, 1, 1]);
  });

  it.each(corrupt)("rejects $what with SnapshotCorruptedError naming the keys, and runs nothing", async ({ value }) => {
    const { provider, calls } = returning(value);
    const { foundry, log } = countedFoundry(3);
    usePersistence(foundry, provider, keys);
    const error = await rejectionOf(foundry.forge());
    expect(error).toBeInstanceOf(SnapshotCorruptedError);
    const corrupted = error as SnapshotCorruptedError;
    expect(corrupted.code).toBe("SNAPSHOT_CORRUPTED");
    expect(corrupted.keys).toEqual({ foundryExecutionId: keys.instanceId, workflowId: keys.workflowKey });
    expect(corrupted.message).toContain(keys.instanceId);
    expect(corrupted.message).toContain(keys.workflowKey);
    expect(log.runs).toEqual([]);
    expect(calls).toEqual([]);
  });

  it("does not restore any property from a corrupt snapshot", async () => {
    const { provider } = returning({ ...valid, formatVersion: 2, properties: { injected: true } });
    const { foundry } = countedFoundry(3, { properties: { orderId: "A-1" } });
    usePersistence(foundry, provider, keys);
    await expect(foundry.forge()).rejects.toBeInstanceOf(SnapshotCorruptedError);
    expect(foundry.properties).toEqual({ orderId: "A-1" });
  });
});
