import { Redis } from "ioredis";
import { createClient } from "redis";
import * as vitest from "vitest";
import { describeProviderConformance } from "../../../src/persistence/testing/index.js";
import { redisStore } from "../../support/conformance-stores.js";
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

  describeProviderConformance(
    redisStore("RedisPersistenceProvider (ioredis)", () => new Redis(server.url), (client) => client.quit()),
    vitest,
  );
  describeProviderConformance(
    redisStore("RedisPersistenceProvider (node-redis)", () => createClient({ url: server.url }).connect(), (client) => client.close()),
    vitest,
  );
}
