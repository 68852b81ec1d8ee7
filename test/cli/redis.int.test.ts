import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { RedisPersistenceProvider } from "../../src/persistence/providers/redis.js";
import { startRedis } from "../support/redis-server.js";
import { cli } from "./run-cli.js";
import { describeStoreCommands } from "./store-cases.js";

// A redis-server of its own on a free port of 127.0.0.1, or a skip saying how to enable it.
const server = await startRedis();

if ("skipped" in server) {
  console.warn(`Redis CLI suite skipped: ${server.skipped}`);
  describe("workflowforge CLI on a real Redis server", () => {
    it.skip(`skipped: ${server.skipped}`, () => {});
  });
} else {
  const client = new Redis(server.url);
  afterAll(async () => {
    await client.quit();
    await server.stop();
  });

  describeStoreCommands("Redis (--redis)", () => {
    // Every case under its own prefix: the same server holds them all.
    const keyPrefix = `cli-${randomUUID()}:`;
    return Promise.resolve({
      args: ["--redis", server.url, "--key-prefix", keyPrefix],
      provider: new RedisPersistenceProvider({ client, keyPrefix }),
      writer: (codec) => new RedisPersistenceProvider({ client, keyPrefix, codec }),
    });
  });

  describe("workflowforge CLI --redis", () => {
    it("names the key prefix when nothing is stored under it", async () => {
      const { code, stdout } = await cli("list", "--redis", server.url, "--key-prefix", "nothing-here:");
      expect(code).toBe(0);
      expect(stdout).toBe(`No snapshots in Redis ${server.url}, key prefix "nothing-here:".\n`);
    });
  });
}
