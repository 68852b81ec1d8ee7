import Database from "better-sqlite3";
import * as vitest from "vitest";
import { SqlitePersistenceProvider } from "../../../src/persistence/providers/sqlite.js";
import { describeProviderConformance } from "../../../src/persistence/testing/index.js";
import { sqliteFileStore } from "../../support/conformance-stores.js";
import { corruptSqliteRow } from "./corrupt-hooks.js";

let fileDatabase: Database.Database | undefined;
describeProviderConformance(
  {
    ...sqliteFileStore("SqlitePersistenceProvider (WAL file database)", (file) => (fileDatabase = new Database(file))),
    corrupt: (keys) => corruptSqliteRow(fileDatabase as Database.Database, keys),
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
    corrupt: (keys, provider) => corruptSqliteRow(memoryDatabases.get(provider) as Database.Database, keys),
    // A :memory: database has no second connection: a second provider object on the same one.
    reopen: (provider) => new SqlitePersistenceProvider({ database: memoryDatabases.get(provider) as Database.Database }),
  },
  vitest,
);
