import { Redis } from "ioredis";
import { createClient } from "redis";
import * as vitest from "vitest";
import type { SnapshotKeys } from "../../../src/persistence/errors.js";
import { describeProviderConformance } from "../../../src/persistence/testing/index.js";
import { redisStore } from "../../support/conformance-stores.js";
import { startRedis } from "../../support/redis-server.js";
import { describeWithServer } from "../../support/describe-with-server.js";
import { corruptRedisRecord } from "./corrupt-hooks.js";

// One server for the file, started while the tests are collected, so a missing binary can skip
// the suite with a message saying how to enable it.
const server = await startRedis();

describeWithServer("RedisPersistenceProvider conformance", server, (started) => {
  const { url } = started;
  const admin = new Redis(url);
  vitest.afterAll(async () => {
    await admin.quit();
    await started.stop();
  });
  const corrupt = (keys: SnapshotKeys) => corruptRedisRecord(admin, keys);
  describeProviderConformance(
    { ...redisStore("RedisPersistenceProvider (ioredis)", () => new Redis(url), (client) => client.quit()), corrupt },
    vitest,
  );
  describeProviderConformance(
    { ...redisStore("RedisPersistenceProvider (node-redis)", () => createClient({ url }).connect(), (client) => client.close()), corrupt },
    vitest,
  );
});
