import { describe, expect, it } from "vitest";
import { createSnapshotCodec, defaultSnapshotCodec } from "../../../src/persistence/codec/codec.js";
import { SqlitePersistenceProvider, type SqliteDatabase } from "../../../src/persistence/providers/sqlite.js";
import { sqliteStatements } from "../../../src/persistence/providers/sqlite-sql.js";
import { randomKeys } from "../../../src/persistence/testing/fixtures.js";
import { taggedJsonCodec } from "../../support/custom-codec.js";
import { useSqliteFiles } from "../../support/sqlite-files.js";
import { claimOf, eventFor, unleased, waitingSnapshot } from "./postgres-mailbox-cases.js";

// What the SQLite mailbox does that the conformance kit cannot see: the upgrade of a table of the
// previous version, the plan that finds due records, the transaction a delivery is.
const { open } = useSqliteFiles("sqlite-mailbox");

describe("SqlitePersistenceProvider's mailbox", () => {
  it("migrate() gives a table of the previous version its wait columns, due index, mailbox and trigger; its rows read and claim as before", async () => {
    const database = open();
    database.exec(
      'CREATE TABLE "old" (instance_id TEXT NOT NULL, workflow_id TEXT NOT NULL, revision INTEGER NOT NULL, status TEXT NOT NULL, workflow_name TEXT NOT NULL, ' +
        'updated_at TEXT NOT NULL, data TEXT NOT NULL, owner TEXT, lease_expires_at TEXT, attempts INTEGER, PRIMARY KEY (instance_id, workflow_id)); CREATE INDEX "old_status_updated_at" ON "old" (status, updated_at);',
    );
    const old = unleased({ status: "running" });
    database.prepare('INSERT INTO "old" (instance_id, workflow_id, revision, status, workflow_name, updated_at, data) VALUES (?, ?, 1, ?, ?, ?, ?)').run(old.foundryExecutionId, old.workflowId, old.status, old.workflowName, old.updatedAt, defaultSnapshotCodec.encode(old));
    const provider = new SqlitePersistenceProvider({ database, tableName: "old" });
    await provider.migrate();
    await new SqlitePersistenceProvider({ database, tableName: "old" }).migrate();
    expect(await provider.tryLoad(old.foundryExecutionId, old.workflowId)).toEqual(old);
    expect(database.prepare("SELECT name FROM pragma_table_info('old') WHERE name IN ('waiting_for', 'wake_ms')").pluck().all()).toEqual(["waiting_for", "wake_ms"]);
    expect(database.prepare("SELECT type || ' ' || name FROM sqlite_master WHERE name LIKE 'old_%' ORDER BY 1").pluck().all()).toEqual([
      "index old_due",
      "index old_status_updated_at",
      "table old_mailbox",
      "trigger old_mailbox_delete",
    ]);
    expect((await provider.claim(claimOf(old.workflowName))).map((item) => item.foundryExecutionId)).toEqual([old.foundryExecutionId]);
    const waiting = waitingSnapshot("approved");
    await provider.save(waiting);
    expect(await provider.deliver(eventFor(waiting, "approved"))).toBe(true);
    expect((await provider.claim(claimOf(waiting.workflowName))).map((item) => item.foundryExecutionId)).toEqual([waiting.foundryExecutionId]);
  });

  it.for([false, true])("finds due records through the partial index on wake_ms, with 10,000 waiting records not yet due (statistics gathered: %s)", async (analyzed) => {
    const database = open();
    const provider = new SqlitePersistenceProvider({ database, tableName: "timers" });
    await provider.migrate();
    database
      .prepare(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) " +
          "INSERT INTO timers (instance_id, workflow_id, revision, status, workflow_name, updated_at, data, wake_ms) SELECT 'i' || i, 'w', 1, 'waiting', 'Timer', '2026-01-01T00:00:00.000Z', 'x', ? + i FROM n",
      )
      .run(Date.parse("2100-01-01T00:00:00.000Z"));
    if (analyzed) database.exec("ANALYZE");
    const request = { ...claimOf("Timer"), filter: {} };
    const { text, values } = sqliteStatements("timers").claim(request)!;
    const plan = (database.prepare(`EXPLAIN QUERY PLAN ${text}`).all(...values) as { detail: string }[]).map((row) => row.detail);
    // The waiting rows are read through the due index by their wake time, never through the status index.
    expect(plan.some((detail) => /USING INDEX timers_due \(wake_ms<\?\)/.test(detail)), plan.join("\n")).toBe(true);
    expect(plan.some((detail) => /^SCAN timers$/.test(detail)), plan.join("\n")).toBe(false);
    expect(await provider.claim(request)).toEqual([]);
  });

  it("a delivery is one transaction: when marking the record fails, the event is not stored either", async () => {
    const database = open();
    const provider = new SqlitePersistenceProvider({ database });
    const snapshot = waitingSnapshot("approved");
    await provider.save(snapshot);
    database.exec("CREATE TRIGGER refuse BEFORE UPDATE OF wake_ms ON workflowforge_snapshots BEGIN SELECT RAISE(ABORT, 'refused'); END;");
    await expect(provider.deliver(eventFor(snapshot, "approved"))).rejects.toMatchObject({ code: "PERSISTENCE", cause: { message: "refused" } });
    database.exec("DROP TRIGGER refuse");
    expect(await provider.receive(snapshot, "approved")).toEqual([]);
    expect(await provider.deliver(eventFor(snapshot, "approved"))).toBe(true);
  });

  it("a delivery inside the application's own transaction on the connection commits and rolls back with it", async () => {
    const database = open();
    const provider = new SqlitePersistenceProvider({ database });
    await provider.migrate();
    const keys = randomKeys();
    const rolledBack = database.transaction(() => {
      void provider.deliver(eventFor(keys, "approved", 1, "first"));
      throw new Error("the application changed its mind");
    });
    expect(rolledBack).toThrow("the application changed its mind");
    database.transaction(() => void provider.deliver(eventFor(keys, "approved", 2, "second")))();
    expect((await provider.receive(keys, "approved")).map((event) => event.eventId)).toEqual(["second"]);
  });

  it("delete removes the instance's events with its row in one statement, and events of an instance with no row", async () => {
    const database = open();
    const provider = new SqlitePersistenceProvider({ database });
    const saved = waitingSnapshot("approved");
    await provider.save(saved);
    const early = randomKeys();
    for (const keys of [saved, early]) await provider.deliver(eventFor(keys, "approved"));
    for (const keys of [saved, early]) await provider.delete(keys.foundryExecutionId, keys.workflowId);
    expect(database.prepare("SELECT count(*) FROM workflowforge_snapshots_mailbox").pluck().get()).toBe(0);
  });

  it("first write wins between two providers on two connections to one file", async () => {
    const [first, second] = [open(), open()].map((database) => new SqlitePersistenceProvider({ database }));
    const keys = randomKeys();
    const results = await Promise.all(Array.from({ length: 20 }, (_, index) => (index % 2 === 0 ? first! : second!).deliver(eventFor(keys, "approved", index, "same"))));
    expect(results).toEqual([true, ...Array.from({ length: 19 }, () => false)]);
    expect((await second!.receive(keys, "approved")).map((event) => event.payload)).toEqual([0]);
  });

  it("stores waitingFor and the wake time in columns, keys stored as keys are, and a custom codec's payload text", async () => {
    const database = open();
    const provider = new SqlitePersistenceProvider({ database, codec: taggedJsonCodec });
    const wakeAt = "2031-02-03T04:05:06.789Z";
    const snapshot = waitingSnapshot("name\uD800", wakeAt);
    await provider.save(snapshot);
    expect(database.prepare("SELECT waiting_for, wake_ms FROM workflowforge_snapshots").get()).toEqual({ waiting_for: `\uFFFF${JSON.stringify("name\uD800")}`, wake_ms: Date.parse(wakeAt) });
    await provider.deliver(eventFor(snapshot, "name\uD800", { n: 1 }));
    expect(database.prepare("SELECT substr(payload, 1, 7) FROM workflowforge_snapshots_mailbox").pluck().get()).toBe("custom:");
    expect((await provider.receive(snapshot, "name\uD800")).map((event) => event.payload)).toEqual([{ n: 1 }]);
  });

  it("a codec with options carries payloads too: a Map round-trips, and one over its size limit is refused before anything is written", async () => {
    const database = open();
    const provider = new SqlitePersistenceProvider({ database, codec: createSnapshotCodec({ maxSnapshotBytes: 2_000 }) });
    const keys = randomKeys();
    const payload = new Map<unknown, unknown>([[1n, new Date(7)]]);
    expect(await provider.deliver(eventFor(keys, "approved", payload, "small"))).toBe(true);
    await expect(provider.deliver(eventFor(keys, "approved", "x".repeat(3_000), "large"))).rejects.toMatchObject({ code: "SNAPSHOT_TOO_LARGE" });
    expect((await provider.receive(keys, "approved")).map((event) => [event.eventId, event.payload])).toEqual([["small", payload]]);
    expect(database.prepare("SELECT substr(payload, 1, 4) FROM workflowforge_snapshots_mailbox").pluck().all()).toEqual(["wf1:"]);
  });

  it("an upgrade racing another process's upgrade of the same file passes: a column added since the check is not an error", async () => {
    const database = open();
    await new SqlitePersistenceProvider({ database }).migrate();
    // What this process read before the other one added the wait columns.
    const stale: SqliteDatabase = {
      prepare: (sql) => (sql.includes("pragma_table_info") ? { ...database.prepare(sql), all: () => [{ name: "instance_id" }, { name: "lease_expires_at" }] } : database.prepare(sql)),
      exec: (sql) => database.exec(sql),
      pragma: (source) => database.pragma(source),
    };
    await new SqlitePersistenceProvider({ database: stale }).migrate();
    const snapshot = waitingSnapshot("approved");
    await new SqlitePersistenceProvider({ database: stale }).save(snapshot);
    expect(await new SqlitePersistenceProvider({ database }).tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
  });
});
