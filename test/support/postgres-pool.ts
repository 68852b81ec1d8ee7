import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll } from "vitest";
import type { PostgresServer } from "./postgres-server.js";

/**
 * A pg Pool on a throw-away server, for the calling describe block. An idle connection the server
 * drops at teardown is ignored rather than crashing the test worker; afterAll ends the pool, then
 * stops the server.
 */
export function usePostgresPool(server: PostgresServer, max = 4): pg.Pool {
  const pool = new pg.Pool({ connectionString: server.url, max });
  pool.on("error", () => undefined);
  afterAll(async () => {
    await pool.end().catch(() => undefined);
    await server.stop();
  });
  return pool;
}

/**
 * Pools on a throw-away server, for the calling describe block: `newPool(max)` opens one. afterAll
 * ends them all, then stops the server, and does not wait past 5 s for a pool a stuck test keeps
 * busy; an idle connection the server drops at teardown is ignored rather than crashing the worker.
 */
export function usePostgresPools(server: PostgresServer, defaultMax = 4): (max?: number) => pg.Pool {
  const pools: pg.Pool[] = [];
  afterAll(async () => {
    const ended = Promise.all(pools.map((pool) => pool.end().catch(() => undefined)));
    await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    await server.stop();
  });
  return (max = defaultMax) => {
    const pool = new pg.Pool({ connectionString: server.url, max });
    pool.on("error", () => undefined);
    pools.push(pool);
    return pool;
  };
}

/** A table or schema name no other test uses, so that tests sharing one server never see each other's rows. */
export const freshPostgresName = (prefix: string): string => `${prefix}_${randomUUID().replaceAll("-", "")}`;
