import type { PGlite } from "@electric-sql/pglite";
import * as vitest from "vitest";
import { describeProviderConformance } from "../../../src/persistence/testing/index.js";
import { postgresStore } from "../../support/conformance-stores.js";
import { freshPglite } from "../../support/pglite.js";
import { corruptPostgresRow } from "./corrupt-hooks.js";

// PGlite (Postgres compiled to WebAssembly, in process) runs the kit everywhere; the real server
// runs it in postgres.int.test.ts. One instance for the suite, started from a dump of a fresh one.
let db: PGlite | undefined;
describeProviderConformance(
  {
    ...postgresStore("PostgresPersistenceProvider (PGlite)", async () => (db = await freshPglite()), (created) => created.close()),
    corrupt: (keys) => corruptPostgresRow(db as PGlite, keys),
  },
  vitest,
);
