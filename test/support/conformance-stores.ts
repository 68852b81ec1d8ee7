import type Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PostgresPersistenceProvider, type PostgresClient } from "../../src/persistence/providers/postgres.js";
import { RedisPersistenceProvider, type IoRedisLikeClient, type NodeRedisLikeClient } from "../../src/persistence/providers/redis.js";
import { SqlitePersistenceProvider } from "../../src/persistence/providers/sqlite.js";
import type { WorkflowPersistenceProvider } from "../../src/persistence/provider.js";
import type { ProviderTestInitializer } from "../../src/persistence/testing/index.js";

// Conformance-kit initializers for the stores that need a driver, which is passed in: the provider
// suites run them on the newest drivers, oldest-drivers.conformance.test.ts on the oldest the peer
// ranges admit. Every test of a suite shares one store (the kit uses random keys), as an
// application would.

/** A WAL file database in a throw-away directory, opened with `open(file)`; `reopen` opens a second connection to it. */
export function sqliteFileStore(name: string, open: (file: string) => Database.Database): ProviderTestInitializer {
  let directory = "";
  let database: Database.Database | undefined;
  const others: Database.Database[] = [];
  return {
    name,
    beforeAll() {
      directory = mkdtempSync(join(tmpdir(), "workflowforge-sqlite-conformance-"));
      database = open(join(directory, "snapshots.db"));
    },
    afterAll() {
      for (const other of others.splice(0)) other.close();
      database?.close();
      rmSync(directory, { recursive: true, force: true });
    },
    create: () => new SqlitePersistenceProvider({ database: database as Database.Database }),
    reopen: () => {
      const other = open(join(directory, "snapshots.db"));
      others.push(other);
      return new SqlitePersistenceProvider({ database: other });
    },
  };
}

/**
 * A client made by `connect` before the suite and closed by `close` after it, shared by the provider
 * of every test; `reopen` makes a second provider object on the same client.
 */
function sharedClientStore<C>(
  name: string,
  connect: () => C | Promise<C>,
  close: (client: C) => unknown,
  provide: (client: C) => WorkflowPersistenceProvider,
  hookTimeoutMs?: number,
): ProviderTestInitializer {
  let client: C | undefined;
  return {
    name,
    ...(hookTimeoutMs === undefined ? {} : { hookTimeoutMs }),
    beforeAll: async () => {
      client = await connect();
    },
    create: () => provide(client as C),
    reopen: () => provide(client as C),
    afterAll: async () => {
      if (client !== undefined) await close(client);
    },
  };
}

/** One client for the Postgres provider: a pg Pool or a PGlite instance, whose first start runs initdb. */
export const postgresStore = <C extends PostgresClient>(name: string, connect: () => Promise<C>, close: (client: C) => unknown): ProviderTestInitializer =>
  sharedClientStore(name, connect, close, (client) => new PostgresPersistenceProvider({ client }), 120_000);

/** One ioredis or node-redis client for the Redis provider; `reopen` connects another, as another process would. */
export function redisStore<C extends IoRedisLikeClient | NodeRedisLikeClient>(name: string, connect: () => C | Promise<C>, close: (client: C) => unknown): ProviderTestInitializer {
  const reopened = new Map<WorkflowPersistenceProvider, C>();
  return {
    ...sharedClientStore(name, connect, close, (client) => new RedisPersistenceProvider({ client })),
    reopen: async () => {
      const client = await connect();
      const provider = new RedisPersistenceProvider({ client });
      reopened.set(provider, client);
      return provider;
    },
    destroy: async (provider) => {
      const client = reopened.get(provider);
      reopened.delete(provider);
      if (client !== undefined) await close(client);
    },
  };
}
