import Database from "better-sqlite3";
import * as vitest from "vitest";
import { SqlitePersistenceProvider } from "../../../src/persistence/providers/sqlite.js";
import { describeProviderConformance } from "../../../src/persistence/testing/index.js";
import { sqliteFileStore } from "../../support/conformance-stores.js";

describeProviderConformance(
  sqliteFileStore("SqlitePersistenceProvider (WAL file database)", (file) => new Database(file)),
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
