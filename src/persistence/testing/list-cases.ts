import assert from "node:assert/strict";
import type { SnapshotFilter, WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import type { ConformanceCase } from "./cases.js";
import { changeDeeply, eachAtMost, fullSnapshot, randomKeys, waitingSnapshot } from "./fixtures.js";

// More records of one name than a store hands out in a first page by default: 1,000 keys for S3
// and Google Cloud Storage, 100 for many SDKs, about 10 a SCAN step in Redis. Of about 1 KB each,
// they are more than DynamoDB's first page of 1 MB, too.
const MANY = 1_100;

async function listedIds(provider: WorkflowPersistenceProvider, filter: SnapshotFilter): Promise<string[]> {
  const found: string[] = [];
  for await (const snapshot of await provider.list!(filter)) found.push(snapshot.foundryExecutionId);
  return found.sort();
}

export const listCases: ConformanceCase[] = [
  {
    group: "list",
    name: "list(filter) returns stored snapshots matching status, workflowId, workflowName and updatedBefore",
    async run(provider) {
      assert.equal(typeof provider.list, "function", "a provider declaring list implements list()");
      const workflowName = `List-${randomKeys().workflowId}`;
      const old = fullSnapshot({ workflowName, status: "running", updatedAt: "2020-01-01T00:00:00.000Z" });
      const failed = fullSnapshot({ workflowName, status: "failed", updatedAt: "2030-01-01T00:00:00.000Z" });
      const other = fullSnapshot({ workflowName: `${workflowName}-other`, status: "failed" });
      for (const snapshot of [old, failed, other]) await provider.save(snapshot);
      // Each failure names the filter that was not applied.
      const expectListed = async (filter: SnapshotFilter, expected: WorkflowExecutionSnapshot[]) => {
        const found: string[] = [];
        for await (const snapshot of await provider.list!(filter)) found.push(snapshot.foundryExecutionId);
        assert.deepEqual(found.sort(), expected.map((snapshot) => snapshot.foundryExecutionId).sort(), `list(${JSON.stringify(filter)}) returned the wrong instances`);
      };
      await expectListed({ workflowName }, [old, failed]);
      await expectListed({ workflowName, status: "failed" }, [failed]);
      await expectListed({ workflowName, status: ["running", "compensating"] }, [old]);
      await expectListed({ workflowId: other.workflowId }, [other]);
      await expectListed({ workflowName, updatedBefore: "2025-01-01T00:00:00.000Z" }, [old]);
    },
  },
  {
    group: "list",
    name: "workflow names are opaque strings like keys: one holding NUL, a backslash or a lone surrogate is stored, and a filter matches it alone",
    async run(provider) {
      const base = `List-${randomKeys().workflowId}`;
      const names = [`${base}\u0000x`, `${base}\\u0000x`, `${base}\uD800`, `${base}\uDC00`, `${base}\uFFFD`];
      const stored = names.map((workflowName) => fullSnapshot({ workflowName, status: "running" }));
      for (const snapshot of stored) await provider.save(snapshot);
      for (const [index, workflowName] of names.entries()) {
        const found: string[] = [];
        for await (const snapshot of await provider.list!({ workflowName })) found.push(snapshot.foundryExecutionId);
        assert.deepEqual(found, [stored[index]!.foundryExecutionId], `list({ workflowName: ${JSON.stringify(workflowName)} }) returned the wrong instances`);
      }
    },
  },
  {
    group: "list",
    name: "list(filter) filters on the statuses waiting and cancelled like the others, and returns wakeAt and waitingFor",
    async run(provider) {
      const workflowName = `List-${randomKeys().workflowId}`;
      const waiting = waitingSnapshot({ workflowName, waitingFor: "approved", wakeAt: "2030-01-01T00:00:00.000Z" });
      const cancelled = waitingSnapshot({ workflowName, status: "cancelled", cancelledAt: "2026-01-02T00:00:00.000Z" });
      const running = fullSnapshot({ workflowName, status: "running" });
      for (const snapshot of [waiting, cancelled, running]) await provider.save(snapshot);
      const listed = async (filter: SnapshotFilter) => {
        const found: WorkflowExecutionSnapshot[] = [];
        for await (const snapshot of await provider.list!({ workflowName, ...filter })) found.push(snapshot);
        return found.sort((a, b) => a.foundryExecutionId.localeCompare(b.foundryExecutionId));
      };
      assert.deepEqual(await listed({ status: "waiting" }), [waiting], "list({ status: \"waiting\" })");
      assert.deepEqual(await listed({ status: "cancelled" }), [cancelled], "list({ status: \"cancelled\" })");
      const sorted = [waiting, running].sort((a, b) => a.foundryExecutionId.localeCompare(b.foundryExecutionId));
      assert.deepEqual(await listed({ status: ["waiting", "running"] }), sorted, "list({ status: [\"waiting\", \"running\"] })");
    },
  },
  {
    group: "list",
    name: "a deleted snapshot no longer appears in list()",
    async run(provider) {
      const workflowName = `List-${randomKeys().workflowId}`;
      const kept = fullSnapshot({ workflowName });
      const deleted = fullSnapshot({ workflowName });
      for (const snapshot of [kept, deleted]) await provider.save(snapshot);
      await provider.delete(deleted.foundryExecutionId, deleted.workflowId);
      const found: string[] = [];
      for await (const snapshot of await provider.list!({ workflowName })) found.push(snapshot.foundryExecutionId);
      assert.deepEqual(found, [kept.foundryExecutionId]);
    },
  },
  {
    group: "list",
    name: "list() returns every match among 1,100 records, not a first page of 1,000 or fewer, and a filter finds the few among them",
    async run(provider) {
      const workflowName = `List-${randomKeys().workflowId}`;
      // Saved 16 at a time: the kit's time is every provider's, and a burst of 1,100 writes helps none.
      const records = Array.from({ length: MANY }, (_, index) => fullSnapshot({ workflowName, status: index % 100 === 42 ? "failed" : "running" }));
      await eachAtMost(records, 16, (snapshot) => provider.save(snapshot));
      const expectAll = async (filter: SnapshotFilter, expected: readonly WorkflowExecutionSnapshot[]) => {
        const found = await listedIds(provider, filter);
        const want = expected.map((snapshot) => snapshot.foundryExecutionId).sort();
        assert.ok(found.length === want.length, `list(${JSON.stringify(filter)}) returned ${found.length} of ${want.length} matching records`);
        assert.deepEqual(found, want, `list(${JSON.stringify(filter)}) returned the wrong instances`);
      };
      await expectAll({ workflowName }, records);
      await expectAll({ workflowName, status: "failed" }, records.filter((snapshot) => snapshot.status === "failed"));
      const last = records[MANY - 1]!;
      await expectAll({ workflowName, workflowId: last.workflowId }, [last]);
    },
  },
  {
    group: "list",
    name: "what list() returns is the caller's own: changing it, deep in its properties and outputs, leaves the stored record as saved",
    async run(provider) {
      const workflowName = `List-${randomKeys().workflowId}`;
      const saved = fullSnapshot({ workflowName });
      await provider.save(structuredClone(saved));
      for await (const snapshot of await provider.list!({ workflowName })) changeDeeply(snapshot, "changed after list");
      assert.deepEqual(await provider.tryLoad(saved.foundryExecutionId, saved.workflowId), saved, "changing what list() returned changed the stored record");
    },
  },
  {
    group: "list",
    name: "list() with an aborted signal rejects",
    async run(provider) {
      const signal = AbortSignal.abort(new Error("conformance abort"));
      await assert.rejects(async () => {
        for await (const snapshot of await provider.list!({}, signal)) void snapshot;
      }, "list");
    },
  },
];
