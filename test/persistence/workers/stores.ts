import { Redis } from "ioredis";
import pg from "pg";
import type { WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { PostgresPersistenceProvider } from "../../../src/persistence/providers/postgres.js";
import { RedisPersistenceProvider } from "../../../src/persistence/providers/redis.js";

export type StoreKind = "postgres" | "redis";

/** A provider on the shared store at `url`, and how to close its client. */
export async function openStore(kind: StoreKind, url: string): Promise<{ provider: WorkflowPersistenceProvider; close: () => Promise<unknown> }> {
  if (kind === "postgres") {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    const provider = new PostgresPersistenceProvider({ client: pool });
    await provider.migrate();
    return { provider, close: () => pool.end() };
  }
  const client = new Redis(url);
  return { provider: new RedisPersistenceProvider({ client }), close: () => client.quit() };
}
