import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PersistenceError } from "../../../src/persistence/errors.js";
import { SqlitePersistenceProvider } from "../../../src/persistence/providers/sqlite.js";
import { setUpWhenFree } from "../../../src/persistence/providers/sqlite-busy.js";
import type { SqliteDatabase } from "../../../src/persistence/providers/sqlite-options.js";
import { fullSnapshot } from "../../../src/persistence/testing/fixtures.js";
import { useSqliteFiles } from "../../support/sqlite-files.js";

// The first use of an application's existing database (a rollback journal, not yet WAL) while
// another process is in a write transaction on it. SQLite answers the switch to WAL with
// SQLITE_BUSY at once, without its busy handler; the provider waits for the busy timeout all the
// same, as every later call does.

const sqlite = useSqliteFiles("sqlite-first-use");
const holders: ChildProcess[] = [];
afterEach(() => {
  for (const holder of holders.splice(0)) holder.kill("SIGKILL");
});

// Another process: in a write transaction on `file` for `holdMs` (0: until killed), then commits.
const holderScript = `
const Database = require("better-sqlite3");
const database = new Database(process.argv[1]);
database.exec("BEGIN IMMEDIATE");
database.exec("INSERT INTO orders VALUES (1)");
process.stdout.write("held\\n");
const holdMs = Number(process.argv[2]);
if (holdMs > 0) setTimeout(() => { database.exec("COMMIT"); database.close(); }, holdMs);
else setInterval(() => undefined, 60_000);
`;

async function holdWriteLock(file: string, holdMs: number): Promise<void> {
  const holder = spawn(process.execPath, ["-e", holderScript, file, String(holdMs)], { cwd: process.cwd(), stdio: ["ignore", "pipe", "inherit"] });
  holders.push(holder);
  const [chunk] = (await once(holder.stdout, "data")) as [Buffer];
  expect(chunk.toString()).toBe("held\n");
}

function applicationDatabase(): string {
  const file = join(sqlite.directory, "app.db");
  const database = sqlite.open(file);
  database.exec("CREATE TABLE orders (id INTEGER)");
  database.close();
  return file;
}

describe("SqlitePersistenceProvider's first use of a database another process is writing", () => {
  it("waits for the other transaction, then switches the file to WAL and stores the snapshot", async () => {
    const file = applicationDatabase();
    // Held for a second after it says so: the save below starts well within it.
    await holdWriteLock(file, 1_000);
    const database = sqlite.open(file, { timeout: 60_000 });
    const provider = new SqlitePersistenceProvider({ database });
    const snapshot = fullSnapshot();

    await provider.save(snapshot);

    expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
    expect(database.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(database.prepare("SELECT count(*) AS n FROM orders").get()).toEqual({ n: 1 });
  });

  it("fails with a PersistenceError once the busy timeout has passed, having waited for it", async () => {
    const file = applicationDatabase();
    await holdWriteLock(file, 0);
    const provider = new SqlitePersistenceProvider({ database: sqlite.open(file, { timeout: 200 }) });
    const started = Date.now();

    const error = await provider.tryLoad("order-42", "wf").then(
      () => expect.unreachable("expected a rejection"),
      (failure: unknown) => failure,
    );

    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(error).toBeInstanceOf(PersistenceError);
    expect(error).toMatchObject({ call: "tryLoad", cause: { code: "SQLITE_BUSY" } });
  });
});

describe("setUpWhenFree", () => {
  afterEach(() => void vi.restoreAllMocks());

  const busy = Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" });
  const withTimeout = (timeout: number) => ({ pragma: () => [{ timeout }] }) as unknown as SqliteDatabase;

  it("runs the setup again while it meets SQLITE_BUSY, and not for another error", () => {
    let calls = 0;
    setUpWhenFree(withTimeout(60_000), () => {
      if (++calls < 3) throw busy;
    });
    expect(calls).toBe(3);
    const other = Object.assign(new Error("file is not a database"), { code: "SQLITE_NOTADB" });
    expect(() =>
      setUpWhenFree(withTimeout(60_000), () => {
        throw other;
      }),
    ).toThrow(other);
  });

  it("counts the busy timeout from the start: a statement that waited it out in SQLite's busy handler is not run again", () => {
    let now = 1_000;
    vi.spyOn(Date, "now").mockImplementation(() => now);
    let calls = 0;
    const setup = (): void => {
      calls++;
      now += 500; // SQLite's busy handler waited the whole timeout, then gave up
      throw busy;
    };
    expect(() => setUpWhenFree(withTimeout(500), setup)).toThrow(busy);
    expect(calls).toBe(1);
  });
});
