import Database from "better-sqlite3";
import * as vitest from "vitest";
import type { SnapshotKeys } from "../../../src/persistence/errors.js";
import { SqlitePersistenceProvider } from "../../../src/persistence/providers/sqlite.js";
import { storedKey } from "../../../src/persistence/providers/stored-keys.js";
import { describeProviderConformance } from "../../../src/persistence/testing/index.js";
import { sqliteFileStore } from "../../support/conformance-stores.js";

// The kit's corrupt hook: junk in the data column of the record's row, as damage would leave it.
function corruptRow(database: Database.Database, keys: SnapshotKeys): void {
  const changed = database
    .prepare("UPDATE workflowforge_snapshots SET data = 'junk' WHERE instance_id = ? AND workflow_id = ?")
    .run(storedKey(keys.foundryExecutionId), storedKey(keys.workflowId)).changes;
  if (changed !== 1) throw new Error(`no row for ${JSON.stringify(keys)}`);
}

let fileDatabase: Database.Database | undefined;
describeProviderConformance(
  {
    ...sqliteFileStore("SqlitePersistenceProvider (WAL file database)", (file) => (fileDatabase = new Database(file))),
    corrupt: (keys) => corruptRow(fileDatabase as Database.Database, keys),
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
    corrupt: (keys, provider) => corruptRow(memoryDatabases.get(provider) as Database.Database, keys),
  },
  vitest,
);
