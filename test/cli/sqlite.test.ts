import Database from "better-sqlite3";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { afterAll, describe, expect, it, vi } from "vitest";
import { SqlitePersistenceProvider } from "../../src/persistence/providers/sqlite.js";
import type { WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";
import { cli, cliJson, seedSnapshots } from "./run-cli.js";
import { describeStoreCommands, type StoreFixture } from "./store-cases.js";
import { describeWaitCommands } from "./wait-cases.js";

const require = createRequire(import.meta.url);
const root = mkdtempSync(join(tmpdir(), "workflowforge-cli-sqlite-"));
const opened: Database.Database[] = [];
afterAll(() => {
  for (const database of opened) database.close();
  rmSync(root, { recursive: true, force: true });
});

let files = 0;
async function freshDatabase(tableName?: string): Promise<{ file: string; database: Database.Database; provider: SqlitePersistenceProvider }> {
  const file = join(root, `store-${++files}.db`);
  const database = new Database(file);
  opened.push(database);
  const provider = new SqlitePersistenceProvider(tableName === undefined ? { database } : { database, tableName });
  await provider.migrate();
  return { file, database, provider };
}

/** A database holding one seeded snapshot, in rollback-journal mode (not WAL), with the snapshot stored. */
async function rollbackJournalDatabase(): Promise<{ file: string; database: Database.Database; snapshot: WorkflowExecutionSnapshot }> {
  const { file, database, provider } = await freshDatabase();
  const [snapshot] = seedSnapshots();
  await provider.save(snapshot!);
  database.pragma("journal_mode = DELETE");
  return { file, database, snapshot: snapshot! };
}

async function freshStore(): Promise<StoreFixture> {
  const { file, database, provider } = await freshDatabase();
  return { args: ["--sqlite", file], provider, writer: (codec) => new SqlitePersistenceProvider({ database, codec }) };
}

describeStoreCommands("a SQLite file (--sqlite)", freshStore);
describeWaitCommands("a SQLite file (--sqlite)", freshStore);

describe("workflowforge CLI --sqlite", () => {
  it("exits 1 for a file that does not exist, and does not create it", async () => {
    const missing = join(root, "missing.db");
    const { code, stderr } = await cli("list", "--sqlite", missing);
    expect(code).toBe(1);
    expect(stderr).toBe(`workflowforge: SQLite file ${missing} does not exist\n`);
    expect(existsSync(missing)).toBe(false);
  });

  it("exits 1 for a file that is not a SQLite database", async () => {
    const file = join(root, "not-a-database.db");
    writeFileSync(file, "just text, long enough to not be an empty database file\n".repeat(20));
    const { code, stderr } = await cli("list", "--sqlite", file);
    expect(code).toBe(1);
    expect(stderr).toBe(`workflowforge: cannot read SQLite file ${file}: file is not a database\n`);
  });

  it("exits 1 naming the table when the database has no such table, and creates none", async () => {
    const { file } = await freshDatabase();
    const { code, stderr } = await cli("list", "--sqlite", file, "--table-name", "other_table");
    expect(code).toBe(1);
    expect(stderr).toMatch(/has no table "other_table" \(pass --table-name/);
    const tables = new Database(file, { readonly: true });
    opened.push(tables);
    expect(tables.prepare("SELECT name FROM sqlite_master WHERE name = 'other_table'").all()).toEqual([]);
  });

  it("reads the table named by --table-name", async () => {
    const { file, provider } = await freshDatabase("custom_snapshots");
    for (const snapshot of seedSnapshots()) await provider.save(snapshot);
    const summaries = await cliJson("list", "--sqlite", file, "--table-name", "custom_snapshots");
    expect(summaries).toHaveLength(4);
  });

  it("gives up on a database kept locked after --timeout, saying what to check, and exits 1", async () => {
    const { file, database, provider } = await freshDatabase();
    for (const snapshot of seedSnapshots()) await provider.save(snapshot);
    const locked = "check for another process holding a write lock on the database (a long transaction), or raise --timeout";
    // A writer in the middle of a long transaction: readers go on (WAL), a delete's claim (a save) waits for it.
    database.exec("BEGIN IMMEDIATE");
    try {
      expect(await cliJson("list", "--sqlite", file, "--timeout", "100ms")).toHaveLength(4);
      const { code, stderr } = await cli("delete", "order-42", "billing-v1", "--sqlite", file, "--timeout", "100ms");
      expect({ code, stderr }).toEqual({ code: 1, stderr: `workflowforge: SQLite file ${file}, table "workflowforge_snapshots": save did not finish within 100ms; ${locked}\n` });
    } finally {
      database.exec("ROLLBACK");
    }
    // A connection that keeps the whole file to itself: not even the check that the table exists gets through.
    database.pragma("locking_mode = EXCLUSIVE");
    database.exec("BEGIN EXCLUSIVE; DELETE FROM workflowforge_snapshots WHERE instance_id = 'invoice-7'");
    try {
      const { code, stderr } = await cli("list", "--sqlite", file, "--timeout", "100ms");
      expect({ code, stderr }).toEqual({ code: 1, stderr: `workflowforge: cannot read SQLite file ${file}: it stayed locked for 100ms; ${locked}\n` });
    } finally {
      database.exec("ROLLBACK");
    }
  });

  it("reports a failure its provider lets through as one line naming the store, never a stack, and exits 1", async () => {
    const { file, provider } = await freshDatabase();
    for (const snapshot of seedSnapshots()) await provider.save(snapshot);
    // What a provider that reads a junk entry's keys with JSON.parse lets out (the Redis provider did).
    const junk = new SyntaxError(`Unexpected token 'j', "junk" is not valid JSON`);
    const list = vi.spyOn(SqlitePersistenceProvider.prototype, "list").mockRejectedValue(junk);
    try {
      for (const command of [["list"], ["prune", "--older-than", "1d"]]) {
        const { code, stdout, stderr } = await cli(...command, "--sqlite", file);
        expect({ code, stdout, stderr }, command[0]).toEqual({ code: 1, stdout: "", stderr: `workflowforge: SQLite file ${file}, table "workflowforge_snapshots": ${junk.message}\n` });
      }
    } finally {
      list.mockRestore();
    }
  });

  it("exits 2 when --table-name is not a valid identifier", async () => {
    const { file } = await freshDatabase();
    const { code, stderr } = await cli("list", "--sqlite", file, "--table-name", "drop table;");
    expect(code).toBe(2);
    expect(stderr).toMatch(/^workflowforge: invalid --table-name: .*tableName must match/);
  });

  it("list and show leave the file exactly as it was: a rollback-journal database is not switched to WAL", async () => {
    const { file, database, snapshot } = await rollbackJournalDatabase();
    const before = readFileSync(file);
    expect(await cliJson("list", "--sqlite", file)).toHaveLength(1);
    expect(await cliJson("show", snapshot.foundryExecutionId, snapshot.workflowId, "--sqlite", file)).toMatchObject({ foundryExecutionId: snapshot.foundryExecutionId });
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(existsSync(`${file}-wal`)).toBe(false);
    expect(database.pragma("journal_mode", { simple: true })).toBe("delete");
  });

  it("prune --dry-run leaves the file exactly as it was, as list does", async () => {
    const { file, database } = await rollbackJournalDatabase();
    const before = readFileSync(file);
    expect(await cliJson("prune", "--sqlite", file, "--older-than", "0s", "--status", "running,failed,completed", "--dry-run")).toMatchObject({ dryRun: true, deleted: 0 });
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(existsSync(`${file}-wal`)).toBe(false);
    expect(database.pragma("journal_mode", { simple: true })).toBe("delete");
  });

  // Root is given no such files (SQLite hands them to the database's owner): the check runs in a
  // child that gives up root first, so it needs root (to give the file to another user, too).
  it.skipIf(process.platform === "win32" || process.getuid?.() !== 0)("refuses, as another user, to read a WAL database no connection has open, rather than leave -wal and -shm files its owner could not write", { timeout: 30_000 }, async () => {
    const shared = mkdtempSync(join(root, "shared-"));
    chmodSync(root, 0o755);
    chmodSync(shared, 0o777);
    const file = join(shared, "app.db");
    const database = new Database(file);
    await new SqlitePersistenceProvider({ database }).migrate();
    expect(database.pragma("journal_mode", { simple: true })).toBe("wal");
    database.close();
    expect([existsSync(`${file}-wal`), existsSync(`${file}-shm`)]).toEqual([false, false]);
    // The application's user: neither root (whose application writes any file) nor the reader.
    chownSync(file, 1, 1);
    const script = `
      const { openSqlite } = await import(process.env.STORE);
      if (process.getuid() === 0) { process.setgid(65534); process.setuid(65534); }
      const spec = { kind: "sqlite", file: process.env.FILE, options: {} };
      process.stdout.write(await openSqlite(spec, { text: "2s", ms: 2000 }, true).then((store) => (store.close(), "opened"), (error) => error.code + ": " + error.message));`;
    const STORE = new URL("../../src/cli/sqlite-store.ts", import.meta.url).href;
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { env: { ...process.env, STORE, FILE: file }, encoding: "utf8" });
    expect(child.stderr).toBe("");
    expect(child.stdout).toMatch(/^STORE: cannot read SQLite file .*app\.db as this user: it is a WAL database no connection has open, .*; run the command as the database's owner, or while the application has the database open$/);
    expect([existsSync(`${file}-wal`), existsSync(`${file}-shm`)]).toEqual([false, false]);
    // Root's and group-writable: another user's application may write it, so it is refused too.
    chownSync(file, 0, 0);
    chmodSync(file, 0o664);
    const groupWritable = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { env: { ...process.env, STORE, FILE: file }, encoding: "utf8" });
    expect(groupWritable.stdout).toMatch(/^STORE: cannot read SQLite file .*app\.db as this user: it is a WAL database no connection has open/);
    // A database only root may write is read: its application, root, writes whatever files the
    // reader leaves. (The check alone: the clone's driver may be out of this user's reach.)
    chmodSync(file, 0o644);
    const check = `
      const { refuseLeavingWalFiles } = await import(process.env.CHECK);
      if (process.getuid() === 0) { process.setgid(65534); process.setuid(65534); }
      process.stdout.write(await refuseLeavingWalFiles(process.env.FILE, "app.db").then(() => "read", (error) => error.message));`;
    const CHECK = new URL("../../src/cli/sqlite-wal-files.ts", import.meta.url).href;
    const asReader = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", check], { env: { ...process.env, CHECK, FILE: file }, encoding: "utf8" });
    expect([asReader.stderr, asReader.stdout]).toEqual(["", "read"]);
  });

  it("list refuses an older version's tables rather than upgrade them, and a command that writes upgrades them", async () => {
    const { file, database, snapshot } = await rollbackJournalDatabase();
    // As a version before waits left it: no events table, trigger or index of due rows.
    database.exec('DROP TRIGGER "workflowforge_snapshots_mailbox_delete"; DROP TABLE "workflowforge_snapshots_mailbox"; DROP INDEX "workflowforge_snapshots_due";');
    const before = readFileSync(file);
    const { code, stderr } = await cli("list", "--sqlite", file);
    expect(code).toBe(1);
    expect(stderr).toMatch(/was made by an older version and is read only as this version made it: run the application, or a command that writes, once to upgrade it/);
    expect(readFileSync(file).equals(before)).toBe(true);
    expect((await cli("delete", snapshot.foundryExecutionId, snapshot.workflowId, "--sqlite", file)).code).toBe(0);
    expect(database.prepare("SELECT name FROM sqlite_master WHERE name = 'workflowforge_snapshots_mailbox'").all()).toHaveLength(1);
  });

  it("list says what to do with a file whose last write was interrupted, which only a command that writes recovers", async () => {
    const { file, database } = await rollbackJournalDatabase();
    database.exec("CREATE TABLE filler (x BLOB)");
    const fill = database.prepare("INSERT INTO filler VALUES (randomblob(4000))");
    for (let row = 0; row < 500; row++) fill.run();
    database.close();
    // A writer killed in the middle of a transaction larger than its cache leaves a hot journal.
    const writer = `const Database = require(${JSON.stringify(require.resolve("better-sqlite3"))}); const db = new Database(${JSON.stringify(file)}); db.pragma("cache_size = 10"); db.exec("BEGIN"); db.exec("UPDATE filler SET x = randomblob(4000)"); process.kill(process.pid, "SIGKILL");`;
    expect(spawnSync(process.execPath, ["-e", writer]).signal).toBe("SIGKILL");
    const { code, stderr } = await cli("list", "--sqlite", file);
    expect(code).toBe(1);
    expect(stderr).toMatch(/a write was interrupted, and only a connection that may write can roll it back or recover the file: run the application, or a command that writes, once/);
    expect((await cli("delete", "nothing", "here", "--sqlite", file)).code).toBe(1);
    expect(await cliJson("list", "--sqlite", file)).toHaveLength(1);
  });
});
