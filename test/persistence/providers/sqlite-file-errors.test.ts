import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PersistenceError } from "../../../src/persistence/errors.js";
import { sqliteFileDetail } from "../../../src/persistence/providers/connection-errors.js";
import { SqlitePersistenceProvider } from "../../../src/persistence/providers/sqlite.js";
import { fullSnapshot, nextRevision } from "../../../src/persistence/testing/fixtures.js";
import { useSqliteFiles } from "../../support/sqlite-files.js";

// A SQLite file the provider cannot write: the error names the file and what to check.

const sqlite = useSqliteFiles("sqlite-file-errors");
const { open } = sqlite;

const failureOf = (promise: Promise<unknown>): Promise<PersistenceError> =>
  promise.then(
    () => expect.unreachable("expected a rejection"),
    (error: unknown) => error as PersistenceError,
  );

describe("SqlitePersistenceProvider on a file it cannot write", () => {
  it("names a read-only file and says to check how it was opened and who may write it", async () => {
    const file = join(sqlite.directory, "snapshots.db");
    await new SqlitePersistenceProvider({ database: open(file) }).migrate();
    const provider = new SqlitePersistenceProvider({ database: open(file, { readonly: true }) });
    const snapshot = fullSnapshot();
    const error = await failureOf(provider.save(snapshot));
    expect(error).toBeInstanceOf(PersistenceError);
    expect(error).toMatchObject({ code: "PERSISTENCE", call: "save", cause: { code: "SQLITE_READONLY" } });
    expect(error.message).toBe(
      `[workflowforge:sqlite] save failed for instance "${snapshot.foundryExecutionId}" / workflow "${snapshot.workflowId}": ` +
        `the database file ${JSON.stringify(file)} cannot be written (SQLITE_READONLY: attempt to write a readonly database). ` +
        "Check that the Database was not opened with { readonly: true }, and that this process may write the file and its directory, " +
        "where SQLite keeps the -wal and -shm files",
    );
  });

  it("says so when the table cannot even be created in a read-only file, which it leaves as it is", async () => {
    const file = join(sqlite.directory, "empty.db");
    open(file).close();
    const before = readFileSync(file);
    const error = await failureOf(new SqlitePersistenceProvider({ database: open(file, { readonly: true }) }).tryLoad("order-42", "wf"));
    expect(error.message).toBe(
      '[workflowforge:sqlite] tryLoad failed for instance "order-42" / workflow "wf": the Database was opened with { readonly: true } and has no table ' +
        '"workflowforge_snapshots" or "workflowforge_snapshots_mailbox" as this version makes it, which a read-only connection cannot create: ' +
        "open it writable once, or call migrate() on a writable one from a deploy step",
    );
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it("reads a read-only file of this version without changing it, and refuses a save with the driver's error", async () => {
    const file = join(sqlite.directory, "current.db");
    const writer = open(file);
    const snapshot = fullSnapshot();
    await new SqlitePersistenceProvider({ database: writer }).save(snapshot);
    writer.pragma("journal_mode = DELETE");
    writer.close();
    const before = readFileSync(file);
    const reader = new SqlitePersistenceProvider({ database: open(file, { readonly: true }) });
    expect(await reader.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
    expect(await failureOf(reader.save({ ...snapshot, revision: 2 }))).toMatchObject({ call: "save", cause: { code: "SQLITE_READONLY" } });
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it("names a file locked by another connection past the busy timeout and says how to wait longer", async () => {
    const file = join(sqlite.directory, "busy.db");
    const provider = new SqlitePersistenceProvider({ database: open(file, { timeout: 0 }) });
    const first = fullSnapshot();
    await provider.save(first);
    const other = open(file);
    other.exec("BEGIN IMMEDIATE");
    const error = await failureOf(provider.save(nextRevision(first)));
    other.exec("ROLLBACK");
    expect(error).toMatchObject({ code: "PERSISTENCE", call: "save", cause: { code: "SQLITE_BUSY" } });
    expect(error.message).toMatch(
      new RegExp(
        `: the database file ${JSON.stringify(file).replaceAll(/[.\\/]/g, "\\$&")} is locked by another connection \\(SQLITE_BUSY: database is locked\\) for longer than the busy timeout\\. ` +
          "Look for a process or connection holding a transaction open, or wait longer: new Database\\(file, \\{ timeout: ms \\}\\)$",
      ),
    );
  });

  it("keeps the driver's message for other failures", async () => {
    const database = open(join(sqlite.directory, "closed.db"));
    database.close();
    const error = await failureOf(new SqlitePersistenceProvider({ database }).tryLoad("order-42", "wf"));
    expect(error.message).toBe('[workflowforge:sqlite] tryLoad failed for instance "order-42" / workflow "wf": The database connection is not open');
  });

  it("names an in-memory or temporary database as such, not as a file", () => {
    const busy = Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" });
    expect(sqliteFileDetail({ name: ":memory:" }, busy)).toMatch(/^the in-memory database is locked by another connection \(SQLITE_BUSY: database is locked\)/);
    expect(sqliteFileDetail({ name: "" }, busy)).toMatch(/^the temporary database is locked/);
    expect(sqliteFileDetail({ name: "/data/app.db" }, busy)).toMatch(/^the database file "\/data\/app\.db" is locked/);
    expect(sqliteFileDetail({ name: "/data/app.db" }, { code: "SQLITE_CORRUPT" })).toBeUndefined();
  });
});
