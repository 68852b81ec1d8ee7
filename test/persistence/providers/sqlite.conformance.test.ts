import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as vitest from "vitest";
import { SqlitePersistenceProvider } from "../../../src/persistence/providers/sqlite.js";
import { describeProviderConformance } from "../../../src/persistence/testing/index.js";

// A WAL file database shared by every test (the kit uses random keys), as an application would.
let directory = "";
let fileDatabase: Database.Database | undefined;

describeProviderConformance(
  {
    name: "SqlitePersistenceProvider (WAL file database)",
    beforeAll() {
      directory = mkdtempSync(join(tmpdir(), "workflowforge-sqlite-conformance-"));
      fileDatabase = new Database(join(directory, "snapshots.db"));
    },
    afterAll() {
      fileDatabase?.close();
      rmSync(directory, { recursive: true, force: true });
    },
    create: () => new SqlitePersistenceProvider({ database: fileDatabase as Database.Database }),
  },
  vitest,
);

// A fresh in-memory database per test, closed after it.
const memoryDatabases = new Map<SqlitePersistenceProvider, Database.Database>();

describeProviderConformance(
  {
    name: "SqlitePersistenceProvider (:memory:)",
    create() {
      const database = new Database(":memory:");
      const provider = new SqlitePersistenceProvider({ database });
      memoryDatabases.set(provider, database);
      return provider;
    },
    destroy(provider) {
      memoryDatabases.get(provider)?.close();
      memoryDatabases.delete(provider);
    },
  },
  vitest,
);
