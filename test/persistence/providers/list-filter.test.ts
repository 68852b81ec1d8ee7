import type { PGlite } from "@electric-sql/pglite";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FilePersistenceProvider } from "../../../src/persistence/providers/file/index.js";
import { MemoryPersistenceProvider } from "../../../src/persistence/providers/memory.js";
import { PostgresPersistenceProvider } from "../../../src/persistence/providers/postgres.js";
import { SqlitePersistenceProvider } from "../../../src/persistence/providers/sqlite.js";
import { fullSnapshot } from "../../../src/persistence/testing/fixtures.js";
import { useFileStore } from "../../support/file-store.js";
import { freshPglite } from "../../support/pglite.js";

// A filter key a provider does not know would be ignored, and list every record: a cleanup that
// lists { stauts: "completed" } to delete them would delete runs that have not finished. Every
// shipped provider refuses such a filter at the call, as the coordinator does.
const files = useFileStore("list-filter");
let database: Database.Database;
let pglite: PGlite;
beforeAll(async () => {
  database = new Database(":memory:");
  pglite = await freshPglite();
});
afterAll(async () => {
  database.close();
  await pglite.close();
});

type Shipped = MemoryPersistenceProvider | FilePersistenceProvider | SqlitePersistenceProvider | PostgresPersistenceProvider;

const providers: [string, string, () => Shipped][] = [
  ["memory", "MemoryPersistenceProvider", () => new MemoryPersistenceProvider()],
  ["file", "FilePersistenceProvider", () => files.provider()],
  ["SQLite", "SqlitePersistenceProvider", () => new SqlitePersistenceProvider({ database, tableName: `filter_${Math.random().toString(36).slice(2)}` })],
  ["Postgres (PGlite)", "PostgresPersistenceProvider", () => new PostgresPersistenceProvider({ client: pglite, tableName: `filter_${Math.random().toString(36).slice(2)}` })],
];

describe.each(providers)("%s list(filter)", (_name, className, make) => {
  it.each([
    ["a misspelt key", { stauts: "completed" }, /filter: unknown option "stauts" \(known: status, workflowId, workflowName, updatedBefore\)/],
    ["a status that is not one", { status: 5 }, /filter\.status must be one of running, failed, compensating, completed, waiting, cancelled \(or an array of them\), got 5/],
    ["an updatedBefore that is no date", { updatedBefore: "last week" }, /filter\.updatedBefore must be a valid Date or date string/],
    ["a filter that is not an object", "completed", /filter must be an object/],
  ])("refuses %s with a TypeError naming the call, and lists nothing", async (_what, filter, message) => {
    const provider = make();
    await provider.save(fullSnapshot({ status: "running", revision: 1 }));
    const refused = await provider.list(filter as never).then(
      (listed) => listed,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(TypeError);
    expect((refused as Error).message).toContain(`${className}.list(filter, signal, options): filter`);
    expect((refused as Error).message).toMatch(message);
  });

  it("lists by a valid filter as before", async () => {
    const provider = make();
    const running = fullSnapshot({ status: "running", revision: 1 });
    await provider.save(running);
    await provider.save(fullSnapshot({ status: "failed", revision: 1 }));
    const listed = await provider.list({ status: ["running"], workflowId: running.workflowId });
    expect(listed.map((snapshot) => snapshot.foundryExecutionId)).toEqual([running.foundryExecutionId]);
  });

  it("takes an updatedBefore past year 9999 (the largest Date) as no limit, and one before year 1 (Postgres has no year 0) as nothing", async () => {
    const provider = make();
    await provider.save(fullSnapshot({ status: "running", revision: 1 }));
    expect(await provider.list({ updatedBefore: new Date(8.64e15) })).toHaveLength(1);
    for (const before of [new Date(-8.64e15), new Date("0000-06-01T00:00:00.000Z"), new Date("0001-01-01T00:00:00.000Z")]) expect(await provider.list({ updatedBefore: before })).toEqual([]);
  });
});
