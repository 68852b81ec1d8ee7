import Database from "better-sqlite3";
import type { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe } from "vitest";
import { MemoryPersistenceProvider } from "../../src/persistence/index.js";
import { FilePersistenceProvider } from "../../src/persistence/providers/file/index.js";
import { PostgresPersistenceProvider } from "../../src/persistence/providers/postgres.js";
import { SqlitePersistenceProvider } from "../../src/persistence/providers/sqlite.js";
import { useTempDirectory } from "../support/temp-directory.js";
import { cancellationCases } from "./cancel-cases.js";
import { freshPglite } from "../support/pglite.js";

describe("cancellation on the memory provider", () => {
  cancellationCases(() => new MemoryPersistenceProvider());
});

describe("cancellation on the file provider", () => {
  const directory = useTempDirectory("cancel");
  cancellationCases(() => new FilePersistenceProvider({ directory: directory.path }));
});

describe("cancellation on SQLite", () => {
  cancellationCases(() => new SqlitePersistenceProvider({ database: new Database(":memory:") }));
});

describe("cancellation on PGlite", () => {
  let db: PGlite | undefined;
  beforeAll(async () => {
    db = await freshPglite();
  }, 120_000);
  afterAll(() => db?.close());
  cancellationCases(() => new PostgresPersistenceProvider({ client: db as PGlite }));
});
