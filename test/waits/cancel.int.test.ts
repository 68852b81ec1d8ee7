import { Redis } from "ioredis";
import { afterAll, describe } from "vitest";
import { PostgresPersistenceProvider } from "../../src/persistence/providers/postgres.js";
import { RedisPersistenceProvider } from "../../src/persistence/providers/redis.js";
import { describeWithServer } from "../support/describe-with-server.js";
import { usePostgresPool } from "../support/postgres-pool.js";
import { startPostgres } from "../support/postgres-server.js";
import { startRedis } from "../support/redis-server.js";
import { cancellationCases } from "./cancel-cases.js";

describeWithServer("cancellation on Postgres", await startPostgres(), (server) => {
  const pool = usePostgresPool(server);
  cancellationCases(() => new PostgresPersistenceProvider({ client: pool }));
});

describeWithServer("cancellation on Redis", await startRedis(), (server) => {
  const client = new Redis(server.url);
  afterAll(async () => {
    await client.quit();
    await server.stop();
  });
  describe("one client", () => cancellationCases(() => new RedisPersistenceProvider({ client })));
});
