import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isWorkflowForgeError } from "../../../src/errors.js";
import { defaultSnapshotCodec } from "../../../src/persistence/codec/codec.js";
import { SnapshotCorruptedError } from "../../../src/persistence/errors.js";
import { PostgresPersistenceProvider, type PostgresClient, type PostgresQueryResult } from "../../../src/persistence/providers/postgres.js";
import { fullSnapshot, nextRevision, randomKeys } from "../../../src/persistence/testing/fixtures.js";
import { describeUnreadableListing } from "./unreadable-cases.js";
import { describeRejectedClaim, describeUnreadableLeftAlone } from "./claim-rejected-cases.js";
import { taggedJsonCodec } from "../../support/custom-codec.js";

// Provider-specific cases that need a database, run on PGlite (postgres.test.ts) and on a real
// server through a pg Pool (postgres.int.test.ts). Every case uses its own table or random keys.

/** Counts the statements a provider sends, and keeps how many values each carried and what it returned. */
export function countingClient(inner: PostgresClient) {
  const calls: { text: string; values: number; result: PostgresQueryResult }[] = [];
  const client: PostgresClient = {
    query: async (text, values) => {
      const result = await inner.query(text, values);
      calls.push({ text, values: values?.length ?? 0, result });
      return result;
    },
  };
  return { client, calls };
}

/**
 * The instances a statement saved or deleted: one for a single save or delete, one per row of a
 * group's VALUES list (twelve values a save, two a delete), none for anything else.
 */
export function instancesWritten(call: { readonly text: string; readonly values: number }): { saves: number; deletes: number } {
  if (call.text.startsWith("INSERT") || call.text.startsWith("UPDATE")) return { saves: 1, deletes: 0 };
  if (call.text.startsWith("WITH i (n,")) return { saves: call.values / 12, deletes: 0 };
  if (call.text.startsWith("WITH k (")) return { saves: 0, deletes: call.values / 2 };
  if (call.text.startsWith("WITH events")) return { saves: 0, deletes: 1 };
  return { saves: 0, deletes: 0 };
}

/** True for a statement that neither saved nor deleted an instance. */
export const writesNothing = (call: { readonly text: string; readonly values: number }): boolean => {
  const { saves, deletes } = instancesWritten(call);
  return saves + deletes === 0;
};

/** The instances `calls` saved and deleted, summed. */
export function totalWritten(calls: readonly { readonly text: string; readonly values: number }[]): { saves: number; deletes: number } {
  return calls.map(instancesWritten).reduce((sum, rows) => ({ saves: sum.saves + rows.saves, deletes: sum.deletes + rows.deletes }), { saves: 0, deletes: 0 });
}

export const freshTable = (): string => `wf_${randomUUID().replaceAll("-", "")}`;

const regclass = async (client: PostgresClient, name: string): Promise<unknown> =>
  ((await client.query("SELECT to_regclass($1)::text AS name", [name])).rows[0] as { name: unknown }).name;

export function describePostgresCases(backend: string, client: () => PostgresClient): void {
  describe(`PostgresPersistenceProvider on ${backend}`, () => {
    describeRejectedClaim((codec) => new PostgresPersistenceProvider({ client: client(), tableName: freshTable(), codec }));
    describeUnreadableLeftAlone((codec) => new PostgresPersistenceProvider({ client: client(), tableName: freshTable(), codec }));
    describeUnreadableListing(() => {
      const tableName = freshTable();
      return Promise.resolve({ provider: new PostgresPersistenceProvider({ client: client(), tableName }), writer: (codec) => new PostgresPersistenceProvider({ client: client(), tableName, codec }) });
    });

    it("sends exactly one statement per save, tryLoad, delete and list once the table exists", async () => {
      const { client: counted, calls } = countingClient(client());
      const provider = new PostgresPersistenceProvider({ client: counted, tableName: freshTable() });
      await provider.migrate();
      const first = fullSnapshot();
      const steps: [string, () => Promise<unknown>][] = [
        ["save revision 1", () => provider.save(first)],
        ["save revision 2", () => provider.save(nextRevision(first))],
        ["tryLoad", () => provider.tryLoad(first.foundryExecutionId, first.workflowId)],
        ["list", () => provider.list({ workflowId: first.workflowId })],
        ["delete", () => provider.delete(first.foundryExecutionId, first.workflowId)],
      ];
      for (const [name, step] of steps) {
        const before = calls.length;
        await step();
        expect(calls.length - before, name).toBe(1);
      }
    });

    it("creates the table on first use with one extra statement, then never again", async () => {
      const { client: counted, calls } = countingClient(client());
      const provider = new PostgresPersistenceProvider({ client: counted, tableName: freshTable() });
      const first = fullSnapshot();
      await provider.save(first);
      expect(calls.length).toBe(2);
      await provider.save(nextRevision(first));
      expect(calls.length).toBe(3);
    });

    it("migrate() is idempotent and keeps stored snapshots", async () => {
      const tableName = freshTable();
      const provider = new PostgresPersistenceProvider({ client: client(), tableName });
      await provider.migrate();
      const snapshot = fullSnapshot();
      await provider.save(snapshot);
      await provider.migrate();
      await new PostgresPersistenceProvider({ client: client(), tableName }).migrate();
      expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
      // Beside the primary key only the status index, claim()'s partial indexes of the keys of rows it
      // runs at once and of waiting rows' wake_ms: no index on a column every checkpoint changes
      // (updated_at, the lease), so that a checkpoint stays a HOT update.
      const { rows } = await client().query("SELECT indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY indexdef DESC", [tableName]);
      expect(rows).toEqual([
        { indexdef: expect.stringMatching(/^CREATE UNIQUE INDEX \S+ ON \S+ USING btree \(instance_id, workflow_id\)$/) },
        { indexdef: expect.stringMatching(/^CREATE INDEX \S+ ON \S+ USING btree \(wake_ms\) WHERE \(status = 'waiting'::text\)$/) },
        { indexdef: expect.stringMatching(/^CREATE INDEX \S+ ON \S+ USING btree \(status\)$/) },
        { indexdef: expect.stringMatching(/^CREATE INDEX \S+_claim_keys ON \S+ USING btree \(instance_id, workflow_id\) WHERE \(status = ANY \(ARRAY\['running'::text, 'failed'::text, 'compensating'::text\]\)\)$/) },
      ]);
    });

    it("migrate() gives a table made before claim() its columns and index, and reads its rows as before", async () => {
      const tableName = freshTable();
      await client().query(
        `CREATE TABLE "${tableName}" (instance_id TEXT NOT NULL, workflow_id TEXT NOT NULL, revision BIGINT NOT NULL, status TEXT NOT NULL, ` +
          "workflow_name TEXT NOT NULL, updated_at TIMESTAMPTZ, data TEXT NOT NULL, PRIMARY KEY (instance_id, workflow_id))",
      );
      const snapshot = fullSnapshot({ status: "running", leaseExpiresAt: new Date(Date.now() - 1_000).toISOString() });
      const old = await client().query(`INSERT INTO "${tableName}" VALUES ($1, $2, 1, 'running', $3, now(), $4)`, [
        snapshot.foundryExecutionId,
        snapshot.workflowId,
        snapshot.workflowName,
        defaultSnapshotCodec.encode(snapshot),
      ]);
      expect(old.rowCount ?? old.affectedRows).toBe(1);
      const provider = new PostgresPersistenceProvider({ client: client(), tableName });
      await provider.migrate();
      expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
      const now = Date.now();
      const claimed = await provider.claim({ owner: "w", now: new Date(now).toISOString(), leaseExpiresAt: new Date(now + 30_000).toISOString(), limit: 5, maxAttempts: 3, filter: { workflowName: snapshot.workflowName } });
      expect(claimed.map((item) => [item.foundryExecutionId, item.revision])).toEqual([[snapshot.foundryExecutionId, 2]]);
    });

    it("puts the table in the schema option's schema, creating the schema", async () => {
      const schema = freshTable();
      const tableName = freshTable();
      const provider = new PostgresPersistenceProvider({ client: client(), schema, tableName });
      const snapshot = fullSnapshot();
      await provider.save(snapshot);
      expect(await regclass(client(), `"${schema}"."${tableName}"`)).toBe(`${schema}.${tableName}`);
      expect(await regclass(client(), `"${tableName}"`)).toBeNull();
      expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
    });

    it("rejects with SnapshotCorruptedError naming the keys when the data column holds garbage", async () => {
      const tableName = freshTable();
      const provider = new PostgresPersistenceProvider({ client: client(), tableName });
      const snapshot = fullSnapshot();
      await provider.save(snapshot);
      await client().query(`UPDATE "${tableName}" SET data = 'garbage' WHERE instance_id = $1`, [snapshot.foundryExecutionId]);
      const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
      for (const attempt of [() => provider.tryLoad(keys.foundryExecutionId, keys.workflowId), () => provider.list({ workflowId: keys.workflowId })]) {
        const error: unknown = await attempt().catch((caught: unknown) => caught);
        expect(isWorkflowForgeError(error) && error.code).toBe("SNAPSHOT_CORRUPTED");
        expect((error as { keys: unknown }).keys).toEqual(keys);
        expect((error as Error).message).toContain(`instance "${keys.foundryExecutionId}" / workflow "${keys.workflowId}"`);
      }
    });

    it("stores keys injectively: NUL, its escaped spelling, a backslash, a lone surrogate and U+FFFD are five rows", async () => {
      const provider = new PostgresPersistenceProvider({ client: client(), tableName: freshTable() });
      const workflowId = randomKeys().workflowId;
      const instances = ["a\u0000", "a\\u0000", "a\uD800", "a\uFFFD", "a\\"];
      for (const instance of instances) await provider.save(fullSnapshot({ foundryExecutionId: instance, workflowId, properties: { instance } }));
      for (const instance of instances) {
        expect((await provider.tryLoad(instance, workflowId))?.properties, JSON.stringify(instance)).toEqual({ instance });
      }
      const listed = await provider.list({ workflowId });
      expect(listed.map((snapshot) => snapshot.foundryExecutionId).sort()).toEqual([...instances].sort());
    });

    it("lists keys starting with U+FEFF, or holding a lone surrogate, as themselves, so list() reports nothing unreadable", async () => {
      const provider = new PostgresPersistenceProvider({ client: client(), tableName: freshTable() });
      const { workflowId } = randomKeys();
      const instances = ["\uFEFF", "\uFEFFbom", "a\uD800", "a\uDC00", "x\uFEFF"];
      for (const instance of instances) await provider.save(fullSnapshot({ foundryExecutionId: instance, workflowId }));
      const unreadable: SnapshotCorruptedError[] = [];
      const listed = await provider.list({ workflowId }, undefined, { onUnreadable: (error) => unreadable.push(error) });
      expect(unreadable.map((error) => error.message)).toEqual([]);
      expect(listed.map((snapshot) => JSON.stringify(snapshot.foundryExecutionId)).sort()).toEqual(instances.map((instance) => JSON.stringify(instance)).sort());
    });

    it("reports a row whose key column holds a spelling no save writes as unreadable, and lists the others", async () => {
      const tableName = freshTable();
      const provider = new PostgresPersistenceProvider({ client: client(), tableName });
      const { workflowId } = randomKeys();
      const kept = fullSnapshot({ workflowId });
      // Saved with a backslash, which is stored escaped; then written back raw, as a hand-run script might.
      const damaged = fullSnapshot({ foundryExecutionId: `raw\\${randomUUID()}`, workflowId });
      for (const snapshot of [kept, damaged]) await provider.save(snapshot);
      await client().query(`UPDATE "${tableName}" SET instance_id = $1 WHERE workflow_id = $2 AND instance_id <> $3`, [damaged.foundryExecutionId, workflowId, kept.foundryExecutionId]);

      const unreadable: SnapshotCorruptedError[] = [];
      expect(await provider.list({ workflowId }, undefined, { onUnreadable: (error) => unreadable.push(error) })).toEqual([kept]);
      expect(unreadable.map((error) => [error.keys, error.message.includes("its instance_id column holds")])).toEqual([[{ foundryExecutionId: "*", workflowId }, true]]);
      await expect(provider.list({ workflowId })).rejects.toBeInstanceOf(SnapshotCorruptedError);
    });

    it("refuses a key pair too long for the primary key's index with PersistenceError naming the keys, storing nothing", async () => {
      const provider = new PostgresPersistenceProvider({ client: client(), tableName: freshTable() });
      // Random text does not compress: 3,000 bytes is over the 2,704 a btree index entry holds.
      const key = Array.from({ length: 94 }, () => randomUUID()).join("").slice(0, 3_000);
      const snapshot = fullSnapshot({ foundryExecutionId: key });
      await expect(provider.save(snapshot)).rejects.toMatchObject({ name: "PersistenceError", code: "PERSISTENCE", call: "save", keys: { foundryExecutionId: key } });
      expect(await provider.tryLoad(key, snapshot.workflowId)).toBeUndefined();
    });

    it("stores ordinary keys as themselves, so they can be queried in SQL", async () => {
      const tableName = freshTable();
      const provider = new PostgresPersistenceProvider({ client: client(), tableName });
      const snapshot = fullSnapshot({ foundryExecutionId: `order-42 é✓ ${randomUUID()}` });
      await provider.save(snapshot);
      const { rows } = await client().query(`SELECT workflow_name, status, revision FROM "${tableName}" WHERE instance_id = $1 AND workflow_id = $2`, [
        snapshot.foundryExecutionId,
        snapshot.workflowId,
      ]);
      expect(rows).toEqual([{ workflow_name: snapshot.workflowName, status: snapshot.status, revision: expect.anything() }]);
      expect(Number((rows[0] as { revision: unknown }).revision)).toBe(1);
    });

    it("a refused save names the revision it expected to find", async () => {
      const provider = new PostgresPersistenceProvider({ client: client(), tableName: freshTable() });
      const first = fullSnapshot();
      await provider.save(first);
      await expect(provider.save(first)).rejects.toThrow(/^\[workflowforge:postgres\] save failed for .*conflict: revision 1 was refused: the stored revision is not 0$/);
      await expect(provider.save(fullSnapshot({ revision: 3 }))).rejects.toThrow(/revision 3 was refused: the stored revision is not 2$/);
      await expect(provider.save(nextRevision(nextRevision(first)))).rejects.toMatchObject({ code: "SNAPSHOT_CONFLICT", call: "save" });
    });

    it("filters list() in SQL: only matching rows come back from the database", async () => {
      const { client: counted, calls } = countingClient(client());
      const provider = new PostgresPersistenceProvider({ client: counted, tableName: freshTable() });
      const workflowName = `Listed-${randomUUID()}`;
      const matching = fullSnapshot({ workflowName, status: "running", updatedAt: "2020-01-01T00:00:00.000Z" });
      const others = [fullSnapshot({ workflowName, status: "failed" }), fullSnapshot({ status: "running" }), fullSnapshot({ workflowName, status: "running" })];
      for (const snapshot of [matching, ...others]) await provider.save(snapshot);
      const found = await provider.list({ workflowName, status: ["running"], updatedBefore: new Date("2021-01-01T00:00:00.000Z") });
      expect(found).toEqual([matching]);
      expect(calls.at(-1)?.result.rows).toHaveLength(1);
    });

    it("list() with an empty status list resolves [] and with an invalid date rejects with a TypeError, both without a query", async () => {
      const { client: counted, calls } = countingClient(client());
      const provider = new PostgresPersistenceProvider({ client: counted, tableName: freshTable() });
      await provider.migrate();
      expect(await provider.list({ status: [] })).toEqual([]);
      await expect(provider.list({ updatedBefore: "not a date" })).rejects.toThrow(TypeError);
      expect(calls).toHaveLength(1);
    });

    it("stores the codec's text in the data column and decodes through the codec", async () => {
      const tableName = freshTable();
      const provider = new PostgresPersistenceProvider({ client: client(), tableName, codec: taggedJsonCodec });
      const snapshot = fullSnapshot();
      await provider.save(snapshot);
      const { rows } = await client().query(`SELECT data FROM ${tableName}`);
      expect(rows).toEqual([{ data: taggedJsonCodec.encode(snapshot) }]);
      expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
    });

    it("an aborted signal rejects with its reason before any statement is sent", async () => {
      const { client: counted, calls } = countingClient(client());
      const provider = new PostgresPersistenceProvider({ client: counted, tableName: freshTable() });
      const reason = new Error("stop now");
      const signal = AbortSignal.abort(reason);
      const snapshot = fullSnapshot();
      await expect(provider.save(snapshot, signal)).rejects.toBe(reason);
      await expect(provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId, signal)).rejects.toBe(reason);
      await expect(provider.delete(snapshot.foundryExecutionId, snapshot.workflowId, signal)).rejects.toBe(reason);
      await expect(provider.list({}, signal)).rejects.toBe(reason);
      expect(calls).toHaveLength(0);
    });
  });
}
