import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { expect } from "vitest";
import { openStore } from "../../src/cli/stores.js";
import { startInspector } from "../../src/inspector/server.js";
import { RedisPersistenceProvider } from "../../src/persistence/providers/redis.js";
import { fullSnapshot } from "../../src/persistence/testing/fixtures.js";
import { raw } from "../inspector/fixture.js";

/**
 * An inspector on the Redis server at `url` answers, the server drops every connection but
 * `admin`'s (as a restart or a proxy would), and the inspector answers again within 15 s.
 */
export async function expectUiReconnects(url: string, admin: Redis): Promise<void> {
  const keyPrefix = `cli-${randomUUID()}:`;
  await new RedisPersistenceProvider({ client: admin, keyPrefix }).save(fullSnapshot());
  const store = await openStore({ kind: "redis", url, options: { keyPrefix } }, { text: "2s", ms: 2_000 }, true);
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
}
