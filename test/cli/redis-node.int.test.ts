import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, expect, it, vi } from "vitest";
import type * as Drivers from "../../src/cli/drivers.js";
import { describeWithServer } from "../support/describe-with-server.js";
import { deadPort } from "../support/ports.js";
import { startRedis } from "../support/redis-server.js";

// The CLI on Redis through node-redis, as where ioredis is not installed: the driver lookup says so.
vi.mock("../../src/cli/drivers.js", async (original) => {
  const actual = await original<typeof Drivers>();
  return { ...actual, tryImportDriver: (name: string) => (name === "ioredis" ? Promise.resolve(undefined) : actual.tryImportDriver(name as never)) };
});
const { openStore } = await import("../../src/cli/stores.js");
const { startInspector } = await import("../../src/inspector/server.js");
const { RedisPersistenceProvider } = await import("../../src/persistence/providers/redis.js");
const { fullSnapshot } = await import("../../src/persistence/testing/fixtures.js");
const { raw } = await import("../inspector/fixture.js");

describeWithServer("workflowforge ui on Redis through node-redis", await startRedis(), (started) => {
  const admin = new Redis(started.url);
  afterAll(async () => {
    await admin.quit();
    await started.stop();
  });

  it("connects again after the server dropped its connection, and answers once more", async () => {
    const keyPrefix = `cli-${randomUUID()}:`;
    await new RedisPersistenceProvider({ client: admin, keyPrefix }).save(fullSnapshot());
    const store = await openStore({ kind: "redis", url: started.url, options: { keyPrefix } }, { text: "2s", ms: 2_000 }, true);
    const inspector = await startInspector(store, { port: 0, host: "127.0.0.1", allowActions: false, maxAttempts: 3 });
    try {
      const listed = async () => (await raw(inspector.url, "GET", "/api/instances")).status;
      expect(await listed()).toBe(200);
      await admin.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes");
      await expect.poll(listed, { timeout: 15_000, interval: 100 }).toBe(200);
    } finally {
      await inspector.close();
      await store.close();
    }
  });

  it("reports a server it cannot reach at once, as a command does", async () => {
    const closed = `redis://127.0.0.1:${await deadPort()}`;
    await expect(openStore({ kind: "redis", url: closed, options: {} }, { text: "5s", ms: 5_000 }, true)).rejects.toMatchObject({ code: "STORE", message: expect.stringMatching(/cannot reach Redis/) });
  });
});
