import Database from "better-sqlite3";
import { Redis } from "ioredis";
import pg from "pg";
import type { WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { PostgresPersistenceProvider } from "../../../src/persistence/providers/postgres.js";
import { RedisPersistenceProvider } from "../../../src/persistence/providers/redis.js";
import { SqlitePersistenceProvider } from "../../../src/persistence/providers/sqlite.js";

export type StoreKind = "postgres" | "redis" | "sqlite";

/** A provider on the shared store at `url` (for SQLite, a database file's path), and how to close its client. */
export async function openStore(kind: StoreKind, url: string): Promise<{ provider: WorkflowPersistenceProvider; close: () => Promise<unknown> }> {
  if (kind === "postgres") {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    const provider = new PostgresPersistenceProvider({ client: pool });
    await provider.migrate();
    return { provider, close: () => pool.end() };
  }
  if (kind === "sqlite") {
    const database = new Database(url);
    const provider = new SqlitePersistenceProvider({ database });
    await provider.migrate();
    return { provider, close: () => Promise.resolve(database.close()) };
  }
  const client = new Redis(url);
  return { provider: new RedisPersistenceProvider({ client }), close: () => client.quit() };
}
