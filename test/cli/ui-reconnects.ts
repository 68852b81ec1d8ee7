import { randomUUID } from "node:crypto";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
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

/**
 * A TCP proxy on 127.0.0.1 to the server at `url`, whose `silence()` makes every connection made
 * so far stop passing data without closing (as a firewall or NAT that forgot it, or a failover
 * behind a virtual IP, leaves it); connections made later pass data as before.
 */
async function silencingProxy(url: string): Promise<{ url: string; silence(): void; close(): Promise<void> }> {
  const target = new URL(url);
  const silenced = new WeakSet<Socket>();
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), "127.0.0.1");
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(from);
      from.on("error", () => undefined);
      from.on("data", (data: Buffer) => void (silenced.has(from) || to.write(data)));
      from.on("close", () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    silence: () => sockets.forEach((socket) => silenced.add(socket)),
    close: async () => {
      sockets.forEach((socket) => socket.destroy());
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * An inspector on the Redis server at `url`, through a proxy, answers; its connection then goes
 * silent without closing; its requests fail with 502 and, once one ran out of time, it connects
 * again and answers 200 within 15 s, while the server never closed anything.
 */
export async function expectUiRecoversFromSilence(url: string, admin: Redis): Promise<void> {
  const keyPrefix = `cli-${randomUUID()}:`;
  await new RedisPersistenceProvider({ client: admin, keyPrefix }).save(fullSnapshot());
  const proxy = await silencingProxy(url);
  const store = await openStore({ kind: "redis", url: proxy.url, options: { keyPrefix } }, { text: "1s", ms: 1_000 }, true);
  const inspector = await startInspector(store, { port: 0, host: "127.0.0.1", allowActions: false, maxAttempts: 3 });
  try {
    const listed = async () => (await raw(inspector.url, "GET", "/api/instances")).status;
    expect(await listed()).toBe(200);
    proxy.silence();
    expect(await listed()).toBe(502);
    await expect.poll(listed, { timeout: 15_000, interval: 100 }).toBe(200);
  } finally {
    await inspector.close();
    await store.close();
    await proxy.close();
  }
}
