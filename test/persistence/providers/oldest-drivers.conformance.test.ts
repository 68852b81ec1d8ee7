import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type Database from "better-sqlite3";
import type { PGlite } from "@electric-sql/pglite";
import type pg from "pg";
import { Redis } from "ioredis";
import * as vitest from "vitest";
import type { SnapshotKeys } from "../../../src/persistence/errors.js";
import { describe, expect, it } from "vitest";
import { describeProviderConformance } from "../../../src/persistence/testing/index.js";
import { postgresStore, redisStore, sqliteFileStore } from "../../support/conformance-stores.js";
import { startPostgres } from "../../support/postgres-server.js";
import { startRedis } from "../../support/redis-server.js";
import { describeWithServer } from "../../support/describe-with-server.js";
import { corruptPostgresRow, corruptRedisRecord, corruptSqliteRow } from "./corrupt-hooks.js";

// The peer ranges in package.json promise that each provider works from the oldest driver version
// they admit. `npm run test:compat:install` installs those versions under `oldest-*` aliases
// (.ci/run does, after `npm ci`; a plain `npm install` does not, so that users build one
// better-sqlite3, not two), and each runs the conformance kit here; the other suites run the newest.

const root = new URL("../../../", import.meta.url);
const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(path, root), "utf8")) as Record<string, unknown>;

/** The alias each peer's oldest version is installed under (as scripts/install-oldest-drivers.mjs names them). */
const aliases: Record<string, string> = {
  "better-sqlite3": "oldest-better-sqlite3",
  pg: "oldest-pg",
  "@electric-sql/pglite": "oldest-pglite",
  ioredis: "oldest-ioredis",
  redis: "oldest-redis",
};

const missing = Object.values(aliases).filter((alias) => !existsSync(new URL(`node_modules/${alias}/package.json`, root)));
if (missing.length > 0) {
  const reason = `${missing.join(", ")} not installed; run \`npm run test:compat:install\` to enable it`;
  // CI installs them: there a missing alias is a broken install step, not a reason to skip.
  if (process.env.WORKFLOWFORGE_REQUIRE_COMPAT === "1") throw new Error(`oldest-driver conformance: ${reason} (WORKFLOWFORGE_REQUIRE_COMPAT=1)`);
  // The default reporter does not print skipped titles.
  console.warn(`Oldest-driver conformance skipped: ${reason}`);
  describe("the oldest peer versions under test", () => {
    it.skip(`skipped: ${reason}`, () => {});
  });
} else {
  await describeOldestDrivers();
}

async function describeOldestDrivers(): Promise<void> {
  const [{ default: OldestDatabase }, { default: oldestPg }, { PGlite: OldestPGlite }, { createClient: createOldestClient }] = await Promise.all([
    import("oldest-better-sqlite3"),
    import("oldest-pg"),
    import("oldest-pglite"),
    import("oldest-redis"),
  ]);
  // ioredis 5.0.0 has no named Redis export yet, and its types make the default import the module
  // rather than the class its module.exports is; required, and typed as the current class.
  const OldestRedis = createRequire(import.meta.url)("oldest-ioredis") as typeof Redis;

  describe("the oldest peer versions under test", () => {
    // The storage drivers: @opentelemetry/api is a peer too, but no provider runs on it.
    const all = readJson("package.json").peerDependencies as Record<string, string>;
    const peers = Object.fromEntries(Object.entries(all).filter(([peer]) => peer !== "@opentelemetry/api"));

    it("are the lower bounds of the peer ranges, for every peer", () => {
      expect(Object.keys(peers).sort()).toEqual(Object.keys(aliases).sort());
      for (const [peer, range] of Object.entries(peers)) {
        const lowest = /^>=(\d+(?:\.\d+){0,2})$/.exec(range)?.[1];
        expect(lowest, `the range of ${peer}, ${range}, is not ">=<version>"`).toBeDefined();
        const wanted = [...(lowest as string).split("."), "0", "0"].slice(0, 3).join(".");
        const installed = readJson(`node_modules/${aliases[peer] as string}/package.json`);
        expect({ peer, name: installed.name, version: installed.version }).toEqual({ peer, name: peer, version: wanted });
      }
    });
  });

  // Servers for the pg and Redis clients, started while the tests are collected, so that missing
  // binaries skip those suites with a message saying how to enable them.
  const [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
  vitest.afterAll(async () => {
    for (const server of [redis, postgres]) if (!("skipped" in server)) await server.stop();
  });

  // Each suite is also handed the kit's corrupt hook, through the database or client it opened.
  let sqlite: Database.Database | undefined;
  describeProviderConformance(
    {
      ...sqliteFileStore("SqlitePersistenceProvider on better-sqlite3 11.0.0 (WAL file database)", (file) => (sqlite = new OldestDatabase(file))),
      corrupt: (keys) => corruptSqliteRow(sqlite as Database.Database, keys),
    },
    vitest,
  );

  let pglite: PGlite | undefined;
  describeProviderConformance(
    {
      ...postgresStore("PostgresPersistenceProvider on PGlite 0.2.0", async () => (pglite = await OldestPGlite.create()), (db) => db.close()),
      corrupt: (keys) => corruptPostgresRow(pglite as PGlite, keys),
    },
    vitest,
  );

  describeWithServer("PostgresPersistenceProvider on pg 8.0.3", postgres, ({ url }) => {
    let pool: pg.Pool | undefined;
    const connect = () => {
      pool = new oldestPg.Pool({ connectionString: url });
      // An idle connection the server drops at teardown must not crash the worker.
      pool.on("error", () => undefined);
      return Promise.resolve(pool);
    };
    describeProviderConformance(
      {
        ...postgresStore("PostgresPersistenceProvider on pg 8.0.3 (Pool, real server)", connect, (created) => created.end()),
        corrupt: (keys) => corruptPostgresRow(pool as pg.Pool, keys),
      },
      vitest,
    );
  });

  describeWithServer("RedisPersistenceProvider on ioredis 5.0.0 and redis 4.0.0", redis, ({ url }) => {
    // The hook's commands go through a current client: only the provider's are under test.
    const admin = new Redis(url);
    vitest.afterAll(() => admin.quit());
    const corrupt = (keys: SnapshotKeys) => corruptRedisRecord(admin, keys);
    describeProviderConformance(
      { ...redisStore("RedisPersistenceProvider on ioredis 5.0.0", () => new OldestRedis(url), (client) => client.quit()), corrupt },
      vitest,
    );
    const connect = async () => {
      const client = createOldestClient({ url });
      await client.connect();
      return client;
    };
    describeProviderConformance({ ...redisStore("RedisPersistenceProvider on redis 4.0.0", connect, (client) => client.quit()), corrupt }, vitest);
  });
}
