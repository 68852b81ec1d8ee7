import { PGlite } from "@electric-sql/pglite";
import * as vitest from "vitest";
import { PostgresPersistenceProvider } from "../../../src/persistence/providers/postgres.js";
import { describeProviderConformance } from "../../../src/persistence/testing/index.js";

// PGlite (Postgres compiled to WebAssembly, in process) runs the kit everywhere; the real server
// runs it in postgres.int.test.ts. One instance for the suite: its first start runs initdb.
let db: PGlite | undefined;
describeProviderConformance(
  {
    name: "PostgresPersistenceProvider (PGlite)",
    hookTimeoutMs: 120_000,
    beforeAll: async () => {
      db = await PGlite.create();
    },
    create: () => new PostgresPersistenceProvider({ client: db as PGlite }),
    afterAll: () => db?.close(),
  },
  vitest,
);
