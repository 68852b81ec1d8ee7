import assert from "node:assert/strict";
import { isWorkflowForgeError } from "../../errors.js";
import type { SnapshotCorruptedError, SnapshotKeys } from "../errors.js";
import type { WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import type { ConformanceCase, ConformanceHooks } from "./cases.js";
import { fullSnapshot, randomKeys } from "./fixtures.js";

// The kit cannot damage a store it does not know, so these cases ask the initializer's
// `corrupt(keys, provider)` hook to make one saved record unreadable, and are skipped without it.

const keysOf = (snapshot: WorkflowExecutionSnapshot): SnapshotKeys => ({ foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId });

// An error names the record when it gives its keys, or "*" for a key the record no longer says.
const names = (error: SnapshotCorruptedError, keys: SnapshotKeys): boolean =>
  [keys.foundryExecutionId, "*"].includes(error.keys.foundryExecutionId) && [keys.workflowId, "*"].includes(error.keys.workflowId);

/** Two readable snapshots and a third made unreadable by the hook, all of one fresh workflow name. */
async function seeded(provider: WorkflowPersistenceProvider, hooks: ConformanceHooks | undefined) {
  assert.ok(hooks !== undefined, "this case needs the initializer's corrupt(keys, provider) hook");
  const workflowName = `Unreadable-${randomKeys().workflowId}`;
  const readable = [fullSnapshot({ workflowName, status: "running" }), fullSnapshot({ workflowName, status: "failed" })];
  const broken = fullSnapshot({ workflowName, status: "running" });
  for (const snapshot of [...readable, broken]) await provider.save(snapshot);
  await hooks.corrupt(keysOf(broken));
  return { workflowName, readable, broken: keysOf(broken) };
}

async function listAll(provider: WorkflowPersistenceProvider, workflowName: string) {
  const unreadable: SnapshotCorruptedError[] = [];
  const found: string[] = [];
  for await (const snapshot of await provider.list!({ workflowName }, undefined, { onUnreadable: (error) => void unreadable.push(error) })) found.push(snapshot.foundryExecutionId);
  return { found: found.sort(), unreadable };
}

// Leaves no unreadable record behind for the other cases of a shared store.
async function removing(provider: WorkflowPersistenceProvider, keys: SnapshotKeys, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } finally {
    await Promise.resolve()
      .then(() => provider.delete(keys.foundryExecutionId, keys.workflowId))
      .catch(() => undefined);
  }
}

export const unreadableCases: ConformanceCase[] = [
  {
    group: "unreadable",
    name: "an unreadable entry does not stop list(): onUnreadable receives its SnapshotCorruptedError and every readable snapshot is listed",
    requires: ["corrupt"],
    async run(provider, hooks) {
      const { workflowName, readable, broken } = await seeded(provider, hooks);
      await removing(provider, broken, async () => {
        const { found, unreadable } = await listAll(provider, workflowName);
        assert.deepEqual(found, readable.map((snapshot) => snapshot.foundryExecutionId).sort(), "list() must return every readable snapshot and leave the unreadable one out");
        for (const error of unreadable) assert.ok(isWorkflowForgeError(error) && error.code === "SNAPSHOT_CORRUPTED", `onUnreadable must receive SnapshotCorruptedError, got ${String(error)}`);
        const reported = unreadable.map((error) => JSON.stringify(error.keys)).join(", ");
        assert.ok(unreadable.some((error) => names(error, broken)), `onUnreadable must receive an error naming ${JSON.stringify(broken)}; it received [${reported}]`);
      });
    },
  },
  {
    group: "unreadable",
    name: "without onUnreadable, list() over an unreadable entry rejects with SnapshotCorruptedError, not another error",
    requires: ["corrupt"],
    async run(provider, hooks) {
      const { workflowName, broken } = await seeded(provider, hooks);
      await removing(provider, broken, async () => {
        await assert.rejects(
          async () => {
            for await (const snapshot of await provider.list!({ workflowName })) void snapshot;
          },
          (error: unknown) => {
            if (isWorkflowForgeError(error) && error.code === "SNAPSHOT_CORRUPTED") return true;
            assert.fail(`list() must reject with SnapshotCorruptedError (code SNAPSHOT_CORRUPTED), but rejected with ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
          },
        );
      });
    },
  },
  {
    group: "unreadable",
    name: "delete(key) removes an unreadable entry: tryLoad then resolves undefined and list() no longer reports it",
    requires: ["corrupt"],
    async run(provider, hooks) {
      const { workflowName, readable, broken } = await seeded(provider, hooks);
      await provider.delete(broken.foundryExecutionId, broken.workflowId);
      assert.equal((await provider.tryLoad(broken.foundryExecutionId, broken.workflowId)) ?? undefined, undefined, "tryLoad after delete");
      const { found, unreadable } = await listAll(provider, workflowName);
      assert.deepEqual(found, readable.map((snapshot) => snapshot.foundryExecutionId).sort());
      const exact = unreadable.filter((error) => error.keys.foundryExecutionId === broken.foundryExecutionId && error.keys.workflowId === broken.workflowId);
      assert.deepEqual(exact, [], "list() must not report a deleted entry");
    },
  },
];
