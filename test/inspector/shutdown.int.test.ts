import { EventEmitter, once } from "node:events";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { expect, it } from "vitest";
import { openStore } from "../../src/cli/stores.js";
import { startInspector } from "../../src/inspector/server.js";
import { PostgresPersistenceProvider } from "../../src/persistence/providers/postgres.js";
import { describeWithServer } from "../support/describe-with-server.js";
import { freshPostgresName, usePostgresPool } from "../support/postgres-pool.js";
import { startPostgres } from "../support/postgres-server.js";
import { raw } from "./fixture.js";
import { inspectorSnapshots } from "./seed.js";

const postgres = await startPostgres();
const hour = { text: "1h", ms: 3_600_000 };

/**
 * A TCP proxy to `port` that can stop answering, as a server stopped with SIGSTOP does: once frozen,
 * what a client sends is held (`held`), and a new connection is accepted but never answered (`login`).
 */
async function freezingProxy(port: number): Promise<{ port: number; events: EventEmitter; freeze(): void; close(): void }> {
  const events = new EventEmitter();
  const sockets = new Set<Socket>();
  let frozen = false;
  const server = createServer((client) => {
    sockets.add(client);
    if (frozen) return void events.emit("login");
    const upstream = connect(port, "127.0.0.1");
    sockets.add(upstream);
    client.on("data", (chunk) => (frozen ? events.emit("held") : upstream.write(chunk)));
    upstream.on("data", (chunk) => frozen || client.write(chunk));
    for (const socket of [client, upstream]) socket.on("close", () => [client, upstream].forEach((other) => other.destroy())).on("error", () => undefined);
  });
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  const close = (): void => {
    server.close();
    for (const socket of sockets) socket.destroy();
  };
  return { port: (server.address() as AddressInfo).port, events, freeze: () => (frozen = true), close };
}

describeWithServer("the inspector stopping on a PostgreSQL server that stopped answering", postgres, (server) => {
  const pool = usePostgresPool(server);

  it("closes the store at once: the query in flight and the connection still logging in are cut, not waited for", async () => {
    const tableName = freshPostgresName("inspector_stop");
    const provider = new PostgresPersistenceProvider({ client: pool, tableName });
    await provider.migrate();
    for (const snapshot of inspectorSnapshots()) await provider.save(snapshot);
    const proxy = await freezingProxy(server.port);
    try {
      const store = await openStore({ kind: "postgres", url: server.url.replace(`:${server.port}/`, `:${proxy.port}/`), options: { tableName } }, hour, true);
      const inspector = await startInspector(store, { port: 0, host: "127.0.0.1", allowActions: false, maxAttempts: 3 });
      expect((await raw(inspector.url, "GET", "/api/instances")).json().total).toBe(10);
      proxy.freeze();
      const held = once(proxy.events, "held");
      const login = once(proxy.events, "login");
      // Two at once: one on the pool's idle connection, the other on a new one (the pool holds two).
      const requests = ["/api/instances", "/api/dead-letters"].map((path) => raw(inspector.url, "GET", path).catch((error: Error) => error));
      await Promise.all([held, login]);
      await inspector.close();
      // pool.end() alone waits for both until pg's query_timeout and connectionTimeoutMillis: an hour here.
      await store.close();
      expect(await Promise.all(requests)).toEqual([expect.any(Error), expect.any(Error)]);
    } finally {
      proxy.close();
    }
  });
});
