import { describe, expect, it } from "vitest";
import { defaultSnapshotCodec } from "../../../src/persistence/codec/codec.js";
import type { DeliveredEvent } from "../../../src/persistence/mailbox.js";
import type { ClaimRequest } from "../../../src/persistence/provider.js";
import { PostgresPersistenceProvider, type PostgresClient } from "../../../src/persistence/providers/postgres.js";
import { encodeKey } from "../../../src/persistence/providers/postgres-sql.js";
import { fullSnapshot, randomKeys } from "../../../src/persistence/testing/fixtures.js";
import type { WorkflowExecutionSnapshot } from "../../../src/persistence/snapshot.js";
import { taggedJsonCodec } from "../../support/custom-codec.js";
import { countingClient, freshTable } from "./postgres-cases.js";

// What the Postgres mailbox does that the conformance kit cannot see: statements per call, the
// tables and columns it adds to an existing table, and the plan that finds due records. Run on
// PGlite (postgres.test.ts) and on a real server (postgres.int.test.ts).

/** A snapshot under no lease, of `overrides`. */
export function unleased(overrides: Partial<WorkflowExecutionSnapshot> = {}): WorkflowExecutionSnapshot {
  const snapshot: { -readonly [K in keyof WorkflowExecutionSnapshot]?: WorkflowExecutionSnapshot[K] } = fullSnapshot(overrides);
  delete snapshot.owner;
  delete snapshot.leaseExpiresAt;
  return snapshot as WorkflowExecutionSnapshot;
}

/** A snapshot suspended at a wait: for `name`, and due at `wakeAt` when given. */
export function waitingSnapshot(name: string | undefined, wakeAt?: string, keys = randomKeys()): WorkflowExecutionSnapshot {
  return unleased({ ...keys, status: "waiting", ...(name === undefined ? {} : { waitingFor: name }), ...(wakeAt === undefined ? {} : { wakeAt }) });
}

/** An event for `keys`, with a fresh id unless one is given. */
export function eventFor(keys: Pick<WorkflowExecutionSnapshot, "foundryExecutionId" | "workflowId">, name: string, payload: unknown = null, eventId = `event-${Math.random()}`): DeliveredEvent {
  return { foundryExecutionId: keys.foundryExecutionId, workflowId: keys.workflowId, name, eventId, payload, sentAt: new Date().toISOString() };
}

/** A claim of records of `workflowName`, now (or at `at`). */
export function claimOf(workflowName: string, at = Date.now()): ClaimRequest {
  const now = new Date(at).toISOString();
  return { owner: "claimer", now, leaseExpiresAt: new Date(at + 30_000).toISOString(), limit: 100, maxAttempts: 3, filter: { workflowName } };
}

export function describePostgresMailboxCases(backend: string, client: () => PostgresClient): void {
  describe(`PostgresPersistenceProvider's mailbox on ${backend}`, () => {
    it("sends one statement per deliver, receive, delete with events and claim of due records; two for an event before the instance's first save", async () => {
      const { client: counted, calls } = countingClient(client());
      const provider = new PostgresPersistenceProvider({ client: counted, tableName: freshTable() });
      await provider.migrate();
      const snapshot = waitingSnapshot("approved");
      await provider.save(snapshot);
      const steps: [string, () => Promise<unknown>][] = [
        ["deliver", () => provider.deliver(eventFor(snapshot, "approved"))],
        ["deliver before the first save", () => provider.deliver(eventFor(randomKeys(), "approved"))],
        ["deliver of a duplicate", () => provider.deliver(eventFor(snapshot, "approved", null, "same")).then(() => provider.deliver(eventFor(snapshot, "approved", null, "same")))],
        ["receive", () => provider.receive(snapshot, "approved")],
        ["claim", () => provider.claim(claimOf(snapshot.workflowName))],
        ["delete", () => provider.delete(snapshot.foundryExecutionId, snapshot.workflowId)],
      ];
      const counts = [];
      for (const [name, step] of steps) {
        const before = calls.length;
        await step();
        counts.push([name, calls.length - before]);
      }
      expect(counts).toEqual([["deliver", 1], ["deliver before the first save", 2], ["deliver of a duplicate", 2], ["receive", 1], ["claim", 1], ["delete", 1]]);
    });

    it("delete removes the instance's events in its one statement, also when no row was ever saved", async () => {
      const tableName = freshTable();
      const provider = new PostgresPersistenceProvider({ client: client(), tableName });
      const saved = waitingSnapshot("approved");
      await provider.save(saved);
      const early = randomKeys();
      for (const keys of [saved, early]) await provider.deliver(eventFor(keys, "approved"));
      for (const keys of [saved, early]) await provider.delete(keys.foundryExecutionId, keys.workflowId);
      const { rows } = await client().query(`SELECT count(*)::int AS n FROM "${tableName}_mailbox"`);
      expect(rows).toEqual([{ n: 0 }]);
      expect(await provider.receive(saved, "approved")).toEqual([]);
    });

    it("marks a waiting row due in the deliver statement, a save clears the mark once its wait consumed the event, and a waiting save marks itself while one is left", async () => {
      const tableName = freshTable();
      const provider = new PostgresPersistenceProvider({ client: client(), tableName });
      const name = "a\u0000name\uD800";
      const snapshot = waitingSnapshot(name);
      await provider.save(snapshot);
      const wakeMs = async (): Promise<unknown> =>
        ((await client().query(`SELECT wake_ms::text AS wake FROM "${tableName}" WHERE instance_id = $1`, [encodeKey(snapshot.foundryExecutionId)])).rows[0] as { wake: unknown }).wake;
      expect(await wakeMs()).toBeNull();
      const [first, second] = [eventFor(snapshot, name, {}, "first\u0000\uDC00"), eventFor(snapshot, name, {}, "second\u0000\uDC00")];
      await provider.deliver(first);
      expect(await wakeMs()).toBe("-8640000000000000");
      await provider.save({ ...snapshot, revision: 2, consumedEvents: [first.eventId] });
      expect(await wakeMs()).toBeNull();
      expect(await provider.claim(claimOf(snapshot.workflowName))).toEqual([]);
      // Delivered while the run ran: it found no row waiting to mark, so the waiting save marks itself.
      await provider.save({ ...snapshot, revision: 3, status: "running", consumedEvents: [first.eventId] });
      await provider.deliver(second);
      await provider.save({ ...snapshot, revision: 4, consumedEvents: [first.eventId] });
      expect(await wakeMs()).toBe("-8640000000000000");
      await provider.save({ ...snapshot, revision: 5, consumedEvents: [first.eventId, second.eventId] });
      expect(await wakeMs()).toBeNull();
    });

    it("stores waitingFor and wakeAt in columns a query can read, keys escaped as they are stored", async () => {
      const tableName = freshTable();
      const provider = new PostgresPersistenceProvider({ client: client(), tableName });
      const wakeAt = "2031-02-03T04:05:06.789Z";
      const snapshot = waitingSnapshot("a\u0000name\uD800", wakeAt);
      await provider.save(snapshot);
      await provider.save(fullSnapshot({ status: "running", waitingFor: "ignored", wakeAt }));
      const { rows } = await client().query(`SELECT status, waiting_for, wake_ms::float8 AS wake_ms FROM "${tableName}" ORDER BY status DESC`);
      expect(rows).toEqual([
        { status: "waiting", waiting_for: encodeKey("a\u0000name\uD800"), wake_ms: Date.parse(wakeAt) },
        { status: "running", waiting_for: null, wake_ms: null },
      ]);
    });

    it("passes payloads through a custom codec, and through encodeValue with the default one", async () => {
      const tableName = freshTable();
      const [keys, other] = [randomKeys(), randomKeys()];
      await new PostgresPersistenceProvider({ client: client(), tableName, codec: taggedJsonCodec }).deliver(eventFor(keys, "n", { n: 1 }, "custom"));
      const payload = new Map<unknown, unknown>([[1n, new Date(5)]]);
      const plain = new PostgresPersistenceProvider({ client: client(), tableName });
      await plain.deliver(eventFor(other, "n", payload, "plain"));
      const { rows } = await client().query(`SELECT event_id, payload FROM "${tableName}_mailbox" ORDER BY seq`);
      expect((rows as { payload: string }[]).map((row) => row.payload.slice(0, 7))).toEqual(["custom:", '{"$wf":']);
      const received = await new PostgresPersistenceProvider({ client: client(), tableName, codec: taggedJsonCodec }).receive(keys, "n");
      expect(received[0]?.payload).toEqual({ n: 1 });
      expect((await plain.receive(other, "n"))[0]?.payload).toEqual(payload);
    });

    it("migrate() gives a table of the previous version its wait columns, due index and mailbox; its rows read and claim as before", async () => {
      const tableName = freshTable();
      await client().query(
        `CREATE TABLE "${tableName}" (instance_id TEXT NOT NULL, workflow_id TEXT NOT NULL, revision BIGINT NOT NULL, status TEXT NOT NULL, workflow_name TEXT NOT NULL, ` +
          `updated_at TIMESTAMPTZ, data TEXT NOT NULL, owner TEXT, lease_expires_at TIMESTAMPTZ, attempts INTEGER, PRIMARY KEY (instance_id, workflow_id))`,
      );
      await client().query(`CREATE INDEX "${tableName}_claimable" ON "${tableName}" (status)`);
      const old = unleased({ status: "running" });
      await client().query(`INSERT INTO "${tableName}" VALUES ($1, $2, 1, 'running', $3, now(), $4)`, [old.foundryExecutionId, old.workflowId, old.workflowName, defaultSnapshotCodec.encode(old)]);
      const provider = new PostgresPersistenceProvider({ client: client(), tableName });
      await provider.migrate();
      expect(await provider.tryLoad(old.foundryExecutionId, old.workflowId)).toEqual(old);
      const columns = await client().query("SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND column_name IN ('waiting_for', 'wake_ms') ORDER BY 1", [tableName]);
      expect(columns.rows).toEqual([{ column_name: "waiting_for" }, { column_name: "wake_ms" }]);
      const indexes = await client().query("SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY 1", [tableName]);
      expect(indexes.rows).toEqual([{ indexname: `${tableName}_claim_keys` }, { indexname: `${tableName}_claimable` }, { indexname: `${tableName}_due` }, { indexname: `${tableName}_pkey` }]);
      expect((await provider.claim(claimOf(old.workflowName))).map((item) => item.foundryExecutionId)).toEqual([old.foundryExecutionId]);
      const waiting = waitingSnapshot("approved");
      await provider.save(waiting);
      expect(await provider.deliver(eventFor(waiting, "approved"))).toBe(true);
      expect((await provider.claim(claimOf(waiting.workflowName))).map((item) => item.foundryExecutionId)).toEqual([waiting.foundryExecutionId]);
    });

    it("gives each of the table names sharing 53 characters its own index on status, and keeps one made under the older cut name", async () => {
      const stem = freshTable().padEnd(53, "x");
      const [first, second, older] = [`${stem}_2026_q1`, `${stem}_2026_q2`, `${stem}_2026_q3`];
      await client().query(
        `CREATE TABLE "${older}" (instance_id TEXT NOT NULL, workflow_id TEXT NOT NULL, revision BIGINT NOT NULL, status TEXT NOT NULL, workflow_name TEXT NOT NULL, ` +
          `updated_at TIMESTAMPTZ, data TEXT NOT NULL, owner TEXT, lease_expires_at TIMESTAMPTZ, attempts INTEGER, PRIMARY KEY (instance_id, workflow_id))`,
      );
      const cutName = `${stem}_claimable`;
      await client().query(`CREATE INDEX "${cutName}" ON "${older}" (status)`);
      // The 53 characters themselves name a table too, whose own index name the older table's took.
      const tables = [stem, first, second, older];
      for (const tableName of tables) await new PostgresPersistenceProvider({ client: client(), tableName }).migrate();
      const statusIndexes = await client().query("SELECT tablename, indexname FROM pg_indexes WHERE tablename = ANY($1) AND indexdef LIKE '%(status)' ORDER BY 1", [tables]);
      const rows = statusIndexes.rows as { tablename: string; indexname: string }[];
      expect(rows.map((row) => row.tablename)).toEqual(tables);
      expect(rows.at(-1)?.indexname).toBe(cutName);
      expect(new Set(rows.map((row) => row.indexname)).size).toBe(4);
    });

    it("claims a waiting record at its wake time, never before, and never as a dead letter", async () => {
      const provider = new PostgresPersistenceProvider({ client: client(), tableName: freshTable() });
      const wakeAt = Date.parse("2030-01-01T00:00:00.000Z");
      const snapshot = { ...waitingSnapshot(undefined, new Date(wakeAt).toISOString()), attempts: 99 };
      await provider.save(snapshot);
      expect(await provider.claim(claimOf(snapshot.workflowName, wakeAt - 1))).toEqual([]);
      const claimed = await provider.claim(claimOf(snapshot.workflowName, wakeAt));
      expect(claimed.map((item) => [item.status, item.revision, item.attempts])).toEqual([["waiting", 2, 100]]);
    });

    it("claims only what the filter's statuses name: waiting alone, or the others without the waiting", async () => {
      const provider = new PostgresPersistenceProvider({ client: client(), tableName: freshTable() });
      const waiting = waitingSnapshot(undefined, new Date(0).toISOString());
      const running = unleased({ status: "running", workflowName: waiting.workflowName });
      await Promise.all([provider.save(waiting), provider.save(running)]);
      const only = async (status: ClaimRequest["filter"] & object): Promise<string[]> =>
        (await provider.claim({ ...claimOf(waiting.workflowName), filter: { ...status, workflowName: waiting.workflowName } })).map((item) => item.status);
      expect(await only({ status: "waiting" })).toEqual(["waiting"]);
      expect(await only({ status: ["running", "failed"] })).toEqual(["running"]);
      expect(await only({ status: ["completed", "cancelled"] })).toEqual([]);
    });
  });
}
