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

/** A table or schema name no other test uses, so that tests sharing one server never see each other's rows. */
export const freshPostgresName = (prefix: string): string => `${prefix}_${randomUUID().replaceAll("-", "")}`;
