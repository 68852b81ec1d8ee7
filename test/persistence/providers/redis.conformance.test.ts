import { Redis } from "ioredis";
import { createClient } from "redis";
import * as vitest from "vitest";
import { RedisPersistenceProvider, type NodeRedisLikeClient } from "../../../src/persistence/providers/redis.js";
import { describeProviderConformance } from "../../../src/persistence/testing/index.js";
import { startRedis } from "../../support/redis-server.js";

// One server for the file, started while the tests are collected, so a missing binary can skip
// the suite with a message saying how to enable it.
const server = await startRedis();

if ("skipped" in server) {
  // The default reporter does not show skipped titles, so the reason is printed too.
  console.warn(`Redis conformance suite skipped: ${server.skipped}`);
  vitest.describe("RedisPersistenceProvider conformance", () => {
    vitest.it.skip(`skipped: ${server.skipped}`, () => {});
  });
} else {
  vitest.afterAll(() => server.stop());

  let ioredis: Redis | undefined;
  describeProviderConformance(
    {
      name: "RedisPersistenceProvider (ioredis)",
      beforeAll: () => {
        ioredis = new Redis(server.url);
      },
      create: () => new RedisPersistenceProvider({ client: ioredis as Redis }),
      afterAll: async () => {
        await ioredis?.quit();
      },
    },
    vitest,
  );

  let nodeRedis: (NodeRedisLikeClient & { close(): Promise<void> }) | undefined;
  describeProviderConformance(
    {
      name: "RedisPersistenceProvider (node-redis)",
      beforeAll: async () => {
        nodeRedis = await createClient({ url: server.url }).connect();
      },
      create: () => new RedisPersistenceProvider({ client: nodeRedis as NodeRedisLikeClient }),
      afterAll: async () => {
        await nodeRedis?.close();
      },
    },
    vitest,
  );
}
