import pg from "pg";
import { PostgresPersistenceProvider } from "../../../src/persistence/providers/postgres.js";

// A process of its own that delivers one event (argv: the event as JSON) to the table in
// WORKFLOWFORGE_TABLE on WORKFLOWFORGE_PG_URL, and prints whether it stored it.
const pool = new pg.Pool({ connectionString: process.env.WORKFLOWFORGE_PG_URL, max: 1 });
try {
  const provider = new PostgresPersistenceProvider({ client: pool, tableName: process.env.WORKFLOWFORGE_TABLE as string });
  process.stdout.write(String(await provider.deliver(JSON.parse(process.argv[2] as string))));
} finally {
  await pool.end();
}
