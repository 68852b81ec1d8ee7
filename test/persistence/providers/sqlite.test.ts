import { defaultSnapshotCodec } from "../../../src/persistence/codec/codec.js";
import type Database from "better-sqlite3";
import { on } from "node:events";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { isWorkflowForgeError } from "../../../src/errors.js";
import { PersistenceError, SnapshotConflictError, SnapshotCorruptedError } from "../../../src/persistence/errors.js";
import { SqlitePersistenceProvider } from "../../../src/persistence/providers/sqlite.js";
import { storedAlready } from "../../../src/persistence/provider-call.js";
import { fullSnapshot, nextRevision } from "../../../src/persistence/testing/fixtures.js";
import { taggedJsonCodec } from "../../support/custom-codec.js";
import { describeUnreadableListing } from "./unreadable-cases.js";
import { rejectionOf } from "../../support/promises.js";
import { useSqliteFiles } from "../../support/sqlite-files.js";

const sqlite = useSqliteFiles("sqlite");
const { open } = sqlite;

const tables = (database: Database.Database): string[] =>
  database.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];

describe("SqlitePersistenceProvider", () => {
  describeUnreadableListing(() => {
    const database = open();
    return Promise.resolve({ provider: new SqlitePersistenceProvider({ database }), writer: (codec) => new SqlitePersistenceProvider({ database, codec }) });
  });

  it("switches a file database to WAL on first use", async () => {
    const database = open();
    expect(database.pragma("journal_mode", { simple: true })).toBe("delete");
    await new SqlitePersistenceProvider({ database }).tryLoad("a", "b");
    expect(database.pragma("journal_mode", { simple: true })).toBe("wal");
  });

  it("leaves synchronous as the user set it", async () => {
    const database = open();
    database.pragma("synchronous = EXTRA");
    await new SqlitePersistenceProvider({ database }).save(fullSnapshot());
    expect(database.pragma("synchronous", { simple: true })).toBe(3);
  });

  // The README's durability advice rests on this driver default (better-sqlite3 builds SQLite with
  // SQLITE_DEFAULT_WAL_SYNCHRONOUS=1): if it changes, the advice must change too.
  it("runs with better-sqlite3's WAL default, synchronous NORMAL, unless the user set it", async () => {
    const unset = open("unset.db");
    await new SqlitePersistenceProvider({ database: unset }).save(fullSnapshot());
    expect(unset.pragma("synchronous", { simple: true })).toBe(1);
    const full = open("full.db");
    full.pragma("synchronous = FULL");
    await new SqlitePersistenceProvider({ database: full }).save(fullSnapshot());
    expect(full.pragma("synchronous", { simple: true })).toBe(2);
  });

  it("resolves a save that stored with storedAlready, which the engine goes on from without waiting a turn of the microtask queue", async () => {
    const provider = new SqlitePersistenceProvider({ database: open() });
    const first = fullSnapshot();
    expect(provider.save(first)).toBe(storedAlready);
    expect(provider.save(nextRevision(first))).toBe(storedAlready);
    const refused = provider.save(first);
    expect(refused).not.toBe(storedAlready);
    expect(await rejectionOf(refused)).toBeInstanceOf(SnapshotConflictError);
  });

  it("creates its table lazily, named workflowforge_snapshots by default", async () => {
    const database = open(":memory:");
    const provider = new SqlitePersistenceProvider({ database });
    expect(tables(database)).toEqual([]);
    await provider.save(fullSnapshot());
    expect(tables(database)).toEqual(["workflowforge_snapshots", "workflowforge_snapshots_mailbox"]);
  });

  it("migrate() gives a table made before claim() the claim's columns, and its rows read as before and can be claimed", async () => {
    const database = open();
    database.exec(
      'CREATE TABLE "old" (instance_id TEXT NOT NULL, workflow_id TEXT NOT NULL, revision INTEGER NOT NULL, status TEXT NOT NULL, ' +
        "workflow_name TEXT NOT NULL, updated_at TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (instance_id, workflow_id))",
    );
    const snapshot = fullSnapshot({ status: "running", leaseExpiresAt: new Date(Date.now() - 1_000).toISOString() });
    database
      .prepare('INSERT INTO "old" VALUES (?, ?, 1, ?, ?, ?, ?)')
      .run(snapshot.foundryExecutionId, snapshot.workflowId, snapshot.status, snapshot.workflowName, snapshot.updatedAt, defaultSnapshotCodec.encode(snapshot));
    const provider = new SqlitePersistenceProvider({ database, tableName: "old" });
    await provider.migrate();
    expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
    const now = Date.now();
    const claimed = await provider.claim({ owner: "w", now: new Date(now).toISOString(), leaseExpiresAt: new Date(now + 30_000).toISOString(), limit: 5, maxAttempts: 3 });
    expect(claimed.map((item) => [item.foundryExecutionId, item.revision, item.owner])).toEqual([[snapshot.foundryExecutionId, 2, "w"]]);
  });

  it("migrate() creates the table ahead of use and is idempotent", async () => {
    const database = open();
    const provider = new SqlitePersistenceProvider({ database, tableName: "deployed" });
    await provider.migrate();
    expect(tables(database)).toEqual(["deployed", "deployed_mailbox"]);
    const columns = database.prepare("SELECT name FROM pragma_table_info('deployed')").pluck().all();
    expect(columns).toEqual(["instance_id", "workflow_id", "revision", "status", "workflow_name", "updated_at", "data", "owner", "lease_expires_at", "attempts", "waiting_for", "wake_ms"]);
    // The recovery scan's index (list() filters on status and updated_at), and claim()'s of due waiting rows.
    const indexes = database.prepare("SELECT name FROM pragma_index_list('deployed') WHERE origin = 'c' ORDER BY name").pluck().all();
    expect(indexes).toEqual(["deployed_due", "deployed_status_updated_at"]);
    expect(database.prepare("SELECT name FROM pragma_index_info('deployed_status_updated_at')").pluck().all()).toEqual(["status", "updated_at"]);
    const snapshot = fullSnapshot();
    await provider.save(snapshot);
    await provider.migrate();
    await new SqlitePersistenceProvider({ database, tableName: "deployed" }).migrate();
    expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
  });

  it("keeps providers on different tables of one database apart", async () => {
    const database = open(":memory:");
    const first = new SqlitePersistenceProvider({ database, tableName: "first" });
    const second = new SqlitePersistenceProvider({ database, tableName: "second" });
    const snapshot = fullSnapshot();
    await first.save(snapshot);
    expect(await second.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toBeUndefined();
    await second.save(snapshot);
    await first.delete(snapshot.foundryExecutionId, snapshot.workflowId);
    expect(await second.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
  });

  it.each(["x-y", "1abc", "", "a".repeat(64), 'a"; DROP TABLE t; --', "naïve", 42, null])("rejects tableName %j with a TypeError naming tableName", (tableName) => {
    const database = open(":memory:");
    expect(() => new SqlitePersistenceProvider({ database, tableName: tableName as string })).toThrow(TypeError);
    expect(() => new SqlitePersistenceProvider({ database, tableName: tableName as string })).toThrow(/options\.tableName/);
  });

  // Each provider names its mailbox, indexes and trigger after its table: "orders_mailbox" would be
  // both a provider's table and the mailbox of the provider on "orders", and break both.
  it.each([
    ["orders_mailbox", "_mailbox"],
    ["ORDERS_MAILBOX", "_mailbox"],
    ["orders_due", "_due"],
    ["orders_status_updated_at", "_status_updated_at"],
    ["orders_mailbox_delete", "_mailbox_delete"],
  ])("rejects tableName %j, a name it derives from another table name, with a TypeError naming tableName and the suffix", (tableName, suffix) => {
    const database = open(":memory:");
    expect(() => new SqlitePersistenceProvider({ database, tableName })).toThrow(TypeError);
    expect(() => new SqlitePersistenceProvider({ database, tableName })).toThrow(`options.tableName must not end in "${suffix}"`);
  });

  it("accepts table names that only contain a suffix it derives", async () => {
    const database = open(":memory:");
    for (const tableName of ["mailbox", "due_orders", "orders_mailboxes", "orders_duel"]) await new SqlitePersistenceProvider({ database, tableName }).migrate();
    expect(tables(database)).toContain("orders_mailboxes");
  });

  it("accepts a 63-character table name", async () => {
    const database = open(":memory:");
    const tableName = `_${"a".repeat(62)}`;
    await new SqlitePersistenceProvider({ database, tableName }).save(fullSnapshot());
    expect(tables(database)).toEqual([tableName, `${tableName}_mailbox`]);
  });

  it("rejects a missing database, a malformed codec and unknown options with TypeErrors naming them", () => {
    const database = open(":memory:");
    expect(() => new SqlitePersistenceProvider({} as never)).toThrow(/options\.database/);
    expect(() => new SqlitePersistenceProvider({ database, codec: { encode: JSON.stringify } as never })).toThrow(/options\.codec/);
    expect(() => new SqlitePersistenceProvider({ database, table: "x" } as never)).toThrow(/unknown option "table"/);
  });

  it("given the database itself in place of its options, says to pass it as options.database", () => {
    const database = open(":memory:");
    expect(() => new SqlitePersistenceProvider(database as never)).toThrow(
      "SqlitePersistenceProvider(options): options must be an object of options, got a Database instance: pass a driver as options.database ({ database })",
    );
    // Options that are a class instance holding the driver are options.
    class Settings {
      constructor(readonly database: Database.Database) {}
    }
    expect(new SqlitePersistenceProvider(new Settings(database)).tableName).toBe("workflowforge_snapshots");
  });

  it("a closed database gives PersistenceError with source sqlite, the call, the keys and the driver's error as cause", async () => {
    const database = open();
    const used = new SqlitePersistenceProvider({ database });
    await used.tryLoad("warm", "up");
    const unused = new SqlitePersistenceProvider({ database, tableName: "never_used" });
    database.close();
    const snapshot = fullSnapshot();
    const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
    for (const provider of [used, unused]) {
      const calls = {
        save: () => provider.save(snapshot),
        tryLoad: () => provider.tryLoad(keys.foundryExecutionId, keys.workflowId),
        delete: () => provider.delete(keys.foundryExecutionId, keys.workflowId),
      };
      for (const [call, attempt] of Object.entries(calls)) {
        const error = await rejectionOf(attempt());
        expect(error).toBeInstanceOf(PersistenceError);
        expect(error).toMatchObject({ code: "PERSISTENCE", call, keys });
        expect((error as Error).message).toMatch(/^\[workflowforge:sqlite\] /);
        expect((error as Error).cause).toBeInstanceOf(Error);
        expect(((error as Error).cause as Error).message).toMatch(/not open/);
      }
      expect(await rejectionOf(provider.list())).toMatchObject({ code: "PERSISTENCE", call: "list" });
    }
  });

  it("SQLITE_BUSY from a lock held by another connection surfaces as PersistenceError", async () => {
    const database = open("busy.db", { timeout: 0 });
    const provider = new SqlitePersistenceProvider({ database });
    const first = fullSnapshot();
    await provider.save(first);
    const other = open("busy.db");
    other.exec("BEGIN IMMEDIATE");
    const error = await rejectionOf(provider.save(nextRevision(first)));
    other.exec("ROLLBACK");
    expect(error).toBeInstanceOf(PersistenceError);
    expect(error).toMatchObject({ code: "PERSISTENCE", call: "save", cause: { code: "SQLITE_BUSY" } });
    expect(await provider.tryLoad(first.foundryExecutionId, first.workflowId)).toEqual(first);
  });

  // better-sqlite3 runs on the calling thread, so the holder is another thread: a worker that keeps
  // a write transaction open for 300 ms while the provider's save waits in the driver's busy handler.
  it("waits out another connection's write lock within the driver's busy timeout (5 s by default)", async () => {
    const path = join(sqlite.directory, "waits.db");
    const provider = new SqlitePersistenceProvider({ database: open("waits.db") });
    const first = fullSnapshot();
    await provider.save(first);
    const holder = new Worker(
      `const Database = require("better-sqlite3");
       const { parentPort, workerData } = require("node:worker_threads");
       const database = new Database(workerData);
       database.exec("BEGIN IMMEDIATE");
       parentPort.postMessage(["held", Date.now()]);
       setTimeout(() => { database.exec("COMMIT"); database.close(); parentPort.postMessage("released"); }, 300);`,
      { eval: true, workerData: path },
    );
    try {
      const messages = on(holder, "message");
      // Timed from the worker's clock: its 300 ms start once the lock is held, whenever the message lands (less 10 ms for timer rounding).
      const [[held, heldAt]] = (await messages.next()).value as [[string, number]];
      expect(held).toBe("held");
      await provider.save(nextRevision(first));
      expect(Date.now() - heldAt).toBeGreaterThanOrEqual(290);
      expect((await messages.next()).value).toEqual(["released"]);
      expect((await provider.tryLoad(first.foundryExecutionId, first.workflowId))?.revision).toBe(2);
    } finally {
      await holder.terminate();
    }
  });

  it("a corrupted data column raises SnapshotCorruptedError naming the keys, from tryLoad and list", async () => {
    const database = open(":memory:");
    const provider = new SqlitePersistenceProvider({ database });
    const snapshot = fullSnapshot();
    const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
    await provider.save(snapshot);
    const cases: [string | Buffer, RegExp][] = [
      ["garbage", /header/],
      [`${database.prepare("SELECT data FROM workflowforge_snapshots").pluck().get() as string}x`, /bytes|checksum/],
      [Buffer.from("binary"), /holds a BLOB/],
    ];
    for (const [garbage, reason] of cases) {
      database.prepare("UPDATE workflowforge_snapshots SET data = ?").run(garbage);
      const error = await rejectionOf(provider.tryLoad(keys.foundryExecutionId, keys.workflowId));
      expect(error).toBeInstanceOf(SnapshotCorruptedError);
      expect(error).toMatchObject({ code: "SNAPSHOT_CORRUPTED", keys });
      expect((error as Error).message).toContain(keys.foundryExecutionId);
      expect((error as Error).message).toMatch(reason);
      expect(await rejectionOf(provider.list())).toMatchObject({ code: "SNAPSHOT_CORRUPTED", keys });
    }
  });

  it("compare-and-set holds between two providers on two connections to the same file", async () => {
    const a = new SqlitePersistenceProvider({ database: open("shared.db") });
    const b = new SqlitePersistenceProvider({ database: open("shared.db") });
    const first = fullSnapshot({ owner: "a" });
    await a.save(first);
    const duplicate = await rejectionOf(b.save({ ...first, owner: "b" }));
    expect(duplicate).toBeInstanceOf(SnapshotConflictError);
    expect(duplicate).toMatchObject({ code: "SNAPSHOT_CONFLICT", call: "save" });
    expect((duplicate as Error).message).toMatch(/^\[workflowforge:sqlite\] .*stored revision is not 0/);
    const second = nextRevision(first, { owner: "b" });
    await b.save(second);
    const stale = await rejectionOf(a.save(nextRevision(first, { owner: "a" })));
    expect(stale).toMatchObject({ code: "SNAPSHOT_CONFLICT" });
    expect(await a.tryLoad(first.foundryExecutionId, first.workflowId)).toEqual(second);
  });

  it("a key containing NUL round-trips and stays apart from the key cut at the NUL", async () => {
    const provider = new SqlitePersistenceProvider({ database: open() });
    const withNul = fullSnapshot({ foundryExecutionId: "order\u0000tail", workflowId: "w\u0000x", properties: { which: "nul" } });
    const cut = fullSnapshot({ foundryExecutionId: "order", workflowId: "w", properties: { which: "cut" } });
    await provider.save(withNul);
    await provider.save(cut);
    expect(await provider.tryLoad("order\u0000tail", "w\u0000x")).toEqual(withNul);
    expect(await provider.tryLoad("order", "w")).toEqual(cut);
    await provider.delete("order", "w");
    expect(await provider.tryLoad("order\u0000tail", "w\u0000x")).toEqual(withNul);
    expect(await provider.list({ workflowId: "w\u0000x" })).toEqual([withNul]);
  });

  it("keys that differ only in a lone surrogate stay apart", async () => {
    const provider = new SqlitePersistenceProvider({ database: open(":memory:") });
    const high = fullSnapshot({ foundryExecutionId: "a\ud800", workflowId: "w", properties: { which: "d800" } });
    const other = fullSnapshot({ foundryExecutionId: "a\ud801", workflowId: "w", properties: { which: "d801" } });
    await provider.save(high);
    await provider.save(other);
    expect(await provider.tryLoad("a\ud800", "w")).toEqual(high);
    expect(await provider.tryLoad("a\ud801", "w")).toEqual(other);
  });

  it("list compares updatedBefore as instants, whatever offset the snapshot was written with", async () => {
    const provider = new SqlitePersistenceProvider({ database: open(":memory:") });
    const workflowName = "Offsets";
    const early = fullSnapshot({ workflowName, updatedAt: "2026-01-01T01:00:00+02:00" });
    const late = fullSnapshot({ workflowName, updatedAt: "2026-01-01T00:30:00.000Z" });
    await provider.save(early);
    await provider.save(late);
    expect(await provider.list({ workflowName, updatedBefore: new Date("2026-01-01T00:00:00Z") })).toEqual([early]);
    await expect(provider.list({ workflowName, updatedBefore: "not a date" })).rejects.toThrow(TypeError);
    expect(await provider.list({ workflowName, status: [] })).toEqual([]);
  });

  it("stores the codec's text in the data column and decodes through the codec", async () => {
    const database = open(":memory:");
    const codec = taggedJsonCodec;
    const provider = new SqlitePersistenceProvider({ database, codec });
    const snapshot = fullSnapshot();
    await provider.save(snapshot);
    expect(database.prepare("SELECT data FROM workflowforge_snapshots").pluck().get()).toBe(codec.encode(snapshot));
    expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
  });

  it("a snapshot the codec refuses writes nothing", async () => {
    const database = open(":memory:");
    const codec = {
      encode: () => {
        throw new Error("refused");
      },
      decode: () => fullSnapshot(),
    };
    const provider = new SqlitePersistenceProvider({ database, codec });
    await provider.migrate();
    const error = await rejectionOf(provider.save(fullSnapshot()));
    expect(isWorkflowForgeError(error)).toBe(true);
    expect((error as Error).message).toContain("refused");
    expect(database.prepare("SELECT count(*) FROM workflowforge_snapshots").pluck().get()).toBe(0);
  });
});
