import { PGlite } from "@electric-sql/pglite";
import * as vitest from "vitest";
import { describeProviderConformance } from "../../../src/persistence/testing/index.js";
import { postgresStore } from "../../support/conformance-stores.js";
import { corruptPostgresRow } from "./corrupt-hooks.js";

// PGlite (Postgres compiled to WebAssembly, in process) runs the kit everywhere; the real server
// runs it in postgres.int.test.ts. One instance for the suite: its first start runs initdb.
let db: PGlite | undefined;
describeProviderConformance(
  {
    ...postgresStore("PostgresPersistenceProvider (PGlite)", async () => (db = await PGlite.create()), (created) => created.close()),
    corrupt: (keys) => corruptPostgresRow(db as PGlite, keys),
  },
  vitest,
);
