import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { createWorkflow } from "../../../src/index.js";
import { createRecoveryCoordinator, defaultSnapshotCodec, SnapshotCorruptedError } from "../../../src/persistence/index.js";
import { SqlitePersistenceProvider } from "../../../src/persistence/providers/sqlite.js";
import { fullSnapshot, randomKeys } from "../../../src/persistence/testing/fixtures.js";

// How the SQLite provider stores keys (lone surrogates, which UTF-8 cannot spell, included) and
// what it makes of key columns it did not write; its table-name rules.

const opened: Database.Database[] = [];
function open(): Database.Database {
  const database = new Database(":memory:");
  opened.push(database);
  return database;
}
afterEach(() => {
  for (const database of opened.splice(0)) database.close();
});

const keyColumns = (database: Database.Database) =>
  database.prepare("SELECT instance_id, workflow_id FROM workflowforge_snapshots ORDER BY rowid").all() as { instance_id: string; workflow_id: string }[];

describe("SqlitePersistenceProvider keys", () => {
  it("lists a key ending in a lone surrogate as itself, so resumeAll resumes that instance", async () => {
    const provider = new SqlitePersistenceProvider({ database: open() });
    const workflow = createWorkflow("Greet").withVersion("1").addOperation({ name: "greet", forge: () => "hello" }).build();
    const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow, owner: "worker-1", leaseTtlMs: 5_000 });
    const instanceId = "Zoë 😀".slice(0, 5);
    await coordinator.enqueue(workflow, { instanceId });

    const unreadable: SnapshotCorruptedError[] = [];
    expect((await provider.list({}, undefined, { onUnreadable: (error) => unreadable.push(error) })).map((snapshot) => snapshot.foundryExecutionId)).toEqual([instanceId]);
    expect(unreadable).toEqual([]);
    const report = await coordinator.resumeAll();
    expect(report.resumed.map((resumed) => resumed.instanceId)).toEqual([instanceId]);
    expect(report.failed).toEqual([]);
  });

  it("keeps a high and a low lone surrogate apart in list(), each reading back as itself", async () => {
    const provider = new SqlitePersistenceProvider({ database: open() });
    const { workflowId } = randomKeys();
    const high = fullSnapshot({ foundryExecutionId: "a\uD800", workflowId, properties: { which: "high" } });
    const low = fullSnapshot({ foundryExecutionId: "a\uDC00", workflowId, properties: { which: "low" } });
    await provider.save(high);
    await provider.save(low);
    const listed = await provider.list({ workflowId });
    expect(listed.map((snapshot) => JSON.stringify(snapshot.foundryExecutionId)).sort()).toEqual(['"a\\ud800"', '"a\\udc00"']);
    expect(await provider.tryLoad("a\uDC00", workflowId)).toEqual(low);
  });

  it("stores a well-formed key as itself and one with a lone surrogate, or starting with U+FFFF, as U+FFFF and its JSON", async () => {
    const database = open();
    const provider = new SqlitePersistenceProvider({ database });
    await provider.save(fullSnapshot({ foundryExecutionId: "order-42 é✓ 😀", workflowId: "w" }));
    await provider.save(fullSnapshot({ foundryExecutionId: "a\uD800", workflowId: "\uFFFFw" }));
    expect(keyColumns(database)).toEqual([
      { instance_id: "order-42 é✓ 😀", workflow_id: "w" },
      { instance_id: '\uFFFF"a\\ud800"', workflow_id: '\uFFFF"\uFFFFw"' },
    ]);
  });

  it("reads a row an earlier version wrote, keys as they are", async () => {
    const database = open();
    const provider = new SqlitePersistenceProvider({ database });
    await provider.migrate();
    const snapshot = fullSnapshot({ foundryExecutionId: "legacy ✓ \\u0041", workflowId: "legacy-w" });
    database
      .prepare("INSERT INTO workflowforge_snapshots (instance_id, workflow_id, revision, status, workflow_name, updated_at, data) VALUES (?, ?, 1, ?, ?, ?, ?)")
      .run(snapshot.foundryExecutionId, snapshot.workflowId, snapshot.status, snapshot.workflowName, snapshot.updatedAt, defaultSnapshotCodec.encode(snapshot));
    expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
    expect(await provider.list({ workflowId: "legacy-w" })).toEqual([snapshot]);
  });

  it("reports a row whose key column holds text no save writes as unreadable, and lists the others", async () => {
    const database = open();
    const provider = new SqlitePersistenceProvider({ database });
    const { workflowId } = randomKeys();
    const kept = fullSnapshot({ workflowId });
    const damaged = fullSnapshot({ workflowId });
    await provider.save(kept);
    await provider.save(damaged);
    database.prepare("UPDATE workflowforge_snapshots SET instance_id = ? WHERE instance_id = ?").run('\uFFFF"unterminated', damaged.foundryExecutionId);

    const unreadable: SnapshotCorruptedError[] = [];
    expect(await provider.list({ workflowId }, undefined, { onUnreadable: (error) => unreadable.push(error) })).toEqual([kept]);
    expect(unreadable).toHaveLength(1);
    expect(unreadable[0]?.keys).toEqual({ foundryExecutionId: "*", workflowId });
    expect(unreadable[0]?.message).toContain("its instance_id column holds");
    await expect(provider.list({ workflowId })).rejects.toBeInstanceOf(SnapshotCorruptedError);
  });
});

describe("SqlitePersistenceProvider tableName", () => {
  it.each(["sqlite_x", "SQLITE_snapshots", "Sqlite_"])("refuses %j, a name SQLite reserves, with a TypeError naming tableName", (tableName) => {
    const database = open();
    expect(() => new SqlitePersistenceProvider({ database, tableName })).toThrow(TypeError);
    expect(() => new SqlitePersistenceProvider({ database, tableName })).toThrow(/options\.tableName must not start with "sqlite_"/);
  });

  it("accepts names that merely contain sqlite", async () => {
    const database = open();
    await new SqlitePersistenceProvider({ database, tableName: "my_sqlite_snapshots" }).migrate();
    await new SqlitePersistenceProvider({ database, tableName: "sqlitex" }).migrate();
  });
});
