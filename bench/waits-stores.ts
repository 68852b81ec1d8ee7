import Database from "better-sqlite3";
import { Redis } from "ioredis";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { WorkflowPersistenceProvider } from "../dist/persistence/index.js";
import { FilePersistenceProvider } from "../dist/persistence/file.js";
import { PostgresPersistenceProvider } from "../dist/persistence/postgres.js";
import { RedisPersistenceProvider } from "../dist/persistence/redis.js";
import { SqlitePersistenceProvider } from "../dist/persistence/sqlite.js";
import { startPostgres } from "../test/support/postgres-server.js";
import { startRedis } from "../test/support/redis-server.js";

// The stores of the `waits` bench: each opens a fresh store, and a second provider object on it
// (another connection), which stands for another process sending events.

export interface BenchStore {
  readonly name: string;
  readonly push: boolean;
  readonly provider: WorkflowPersistenceProvider;
  readonly sender: WorkflowPersistenceProvider;
  /** A provider on the same store and connection keeping its records apart (its own table, key prefix or directory). */
  readonly alongside: (name: string) => Promise<WorkflowPersistenceProvider>;
  readonly close: () => Promise<void>;
}

export type StoreName = "sqlite" | "file" | "postgres" | "redis";

/** A fresh store, or why it is not measured (a server that could not start). */
export async function openBenchStore(name: StoreName): Promise<BenchStore | string> {
  const directory = mkdtempSync(join(tmpdir(), `workflowforge-bench-waits-${name}-`));
  const removeDirectory = () => Promise.resolve(rmSync(directory, { recursive: true, force: true }));
  if (name === "sqlite") {
    const [worker, sender] = [new Database(join(directory, "app.db")), new Database(join(directory, "app.db"))];
    const provider = new SqlitePersistenceProvider({ database: worker });
    await provider.migrate();
    const alongside = async (table: string) => migrated(new SqlitePersistenceProvider({ database: worker, tableName: `${table}_snapshots` }));
    return { name: "SQLite", push: false, provider, sender: new SqlitePersistenceProvider({ database: sender }), alongside, close: async () => (worker.close(), sender.close(), removeDirectory()) };
  }
  if (name === "file") {
    const alongside = (subdirectory: string) => Promise.resolve(new FilePersistenceProvider({ directory: join(directory, subdirectory) }));
    return { name: "file", push: false, provider: new FilePersistenceProvider({ directory }), sender: new FilePersistenceProvider({ directory }), alongside, close: removeDirectory };
  }
  if (name === "postgres") {
    const server = await startPostgres();
    if ("skipped" in server) return server.skipped;
    const [worker, sender] = [new pg.Pool({ connectionString: server.url, max: 8 }), new pg.Pool({ connectionString: server.url, max: 2 })];
    // An idle connection the server drops (its shutdown at the end of the section) is not a failure
    // of what is measured; unheard, a pool's 'error' would end the process (once in ten runs).
    for (const pool of [worker, sender]) pool.on("error", () => undefined);
    const provider = new PostgresPersistenceProvider({ client: worker });
    await provider.migrate();
    const close = async () => (await Promise.all([worker.end(), sender.end()]), await server.stop(), await removeDirectory());
    const alongside = async (table: string) => migrated(new PostgresPersistenceProvider({ client: worker, tableName: `${table}_snapshots` }));
    return { name: "Postgres", push: true, provider, sender: new PostgresPersistenceProvider({ client: sender }), alongside, close };
  }
  const server = await startRedis();
  if ("skipped" in server) return server.skipped;
  const [worker, sender] = [new Redis(server.url), new Redis(server.url)];
  const close = async () => (await Promise.all([worker.quit(), sender.quit()]), await server.stop(), await removeDirectory());
  const alongside = (prefix: string) => Promise.resolve(new RedisPersistenceProvider({ client: worker, keyPrefix: `${prefix}:` }));
  return { name: "Redis", push: true, provider: new RedisPersistenceProvider({ client: worker }), sender: new RedisPersistenceProvider({ client: sender }), alongside, close };
}

async function migrated<T extends { migrate(): Promise<unknown> }>(provider: T): Promise<T> {
  await provider.migrate();
  return provider;
}
