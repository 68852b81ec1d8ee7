import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";
import pg from "pg";
import { afterAll, expect, it } from "vitest";
import { PostgresPersistenceProvider } from "../../../src/persistence/providers/postgres.js";
import { postgresStatements } from "../../../src/persistence/providers/postgres-sql.js";
import { describeWithServer } from "../../support/describe-with-server.js";
import { freshPostgresName, usePostgresPools } from "../../support/postgres-pool.js";
import { escaping, throwingListener } from "../../support/throwing-listener.js";
import { startPostgres } from "../../support/postgres-server.js";

// subscribe() on a pg Pool whose connection is lost while its LISTEN is in flight: pg emits the
// connection's "error" before it rejects the query, and both used to start a retry. Connections
// go through a proxy on 127.0.0.1 that cuts the next ones sending LISTEN, as a network reset would.
// And a listener that throws: its error must neither escape (pg calls it inside a socket's event)
// nor stop listening from resuming after a lost connection.

/** What escapes as an uncaught exception or an unhandled rejection until `stop()`. */
interface CuttingProxy {
  readonly url: string;
  /** How many of the next connections sending LISTEN are cut. */
  cutListens: number;
  /** Cuts every connection open now. */
  cutAll(): void;
  close(): void;
}

async function cuttingProxy(port: number): Promise<CuttingProxy> {
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const upstream = connect(port, "127.0.0.1");
    const cut = (): void => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", cut).on("close", () => (sockets.delete(socket), cut()));
    }
    client.on("data", (chunk: Buffer) => {
      if (state.cutListens > 0 && chunk.includes("LISTEN ")) {
        state.cutListens--;
        return cut();
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
  });
  proxy.listen(0, "127.0.0.1");
  await once(proxy, "listening");
  const state: CuttingProxy = {
    url: `postgres://postgres@127.0.0.1:${(proxy.address() as { port: number }).port}/postgres`,
    cutListens: 0,
    cutAll: () => sockets.forEach((socket) => socket.destroy()),
    close: () => (state.cutAll(), proxy.close()),
  };
  return state;
}

describeWithServer("PostgresPersistenceProvider.subscribe when the connection is lost during LISTEN", await startPostgres(), (server) => {
  const direct = usePostgresPools(server)(2);
  const proxies: CuttingProxy[] = [];
  afterAll(() => proxies.forEach((proxy) => proxy.close()));

  async function throughProxy(max: number) {
    const proxy = await cuttingProxy(server.port);
    proxies.push(proxy);
    const pool = new pg.Pool({ connectionString: proxy.url, max });
    pool.on("error", () => undefined);
    const tableName = freshPostgresName("listen");
    const provider = new PostgresPersistenceProvider({ client: pool, tableName });
    await provider.migrate();
    const channel = postgresStatements(tableName, undefined).channel;
    const notify = () => direct.query("SELECT pg_notify($1, '')", [channel]);
    const listening = async () => ((await direct.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1", [`LISTEN "${channel}"`])).rows[0] as { n: number }).n;
    return { proxy, pool, provider, notify, listening, checkedOut: () => pool.totalCount - pool.idleCount };
  }

  it("a listener that throws on a notification is called for the next one, and its error does not escape", async () => {
    const { pool, provider, notify } = await throughProxy(3);
    const escaped = escaping();
    const throwing = throwingListener();
    const stop = await provider.subscribe(throwing.listener);
    for (let round = 0; round < 2; round++) {
      const called = throwing.next();
      await notify();
      await called;
    }
    escaped.stop();
    expect({ calls: throwing.calls(), escaped: escaped.errors }).toEqual({ calls: 2, escaped: [] });
    await stop();
    await pool.end();
  });

  it("a listener that throws when the connection is lost does not stop listening from resuming", async () => {
    const { proxy, pool, provider, notify, listening } = await throughProxy(3);
    const escaped = escaping();
    const throwing = throwingListener();
    const stop = await provider.subscribe(throwing.listener);
    proxy.cutAll();
    // Told once of the loss, once more after listening resumed.
    await expect.poll(throwing.calls, { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
    await expect.poll(listening, { timeout: 15_000 }).toBe(1);
    const called = throwing.next();
    await notify();
    await called;
    escaped.stop();
    expect(escaped.errors).toEqual([]);
    await stop();
    await pool.end();
  });

  it("a subscribe() that fails leaves nothing running: no connection held, no listener called", async () => {
    const { proxy, pool, provider, notify, checkedOut } = await throughProxy(3);
    let calls = 0;
    proxy.cutListens = 1;
    await expect(provider.subscribe(() => calls++)).rejects.toThrow();
    // A retry would start within 100 ms and listen again; give it ten times that, then see none did.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await notify();
    await expect.poll(() => pool.idleCount).toBe(pool.totalCount);
    expect({ checkedOut: checkedOut(), calls }).toEqual({ checkedOut: 0, calls: 0 });
    await pool.end();
  });

  it("a connection lost again while listening resumes leaves one listener, and stop() gives every connection back", async () => {
    const { proxy, pool, provider, notify, listening, checkedOut } = await throughProxy(4);
    let calls = 0;
    let heard!: () => void;
    const stop = await provider.subscribe(() => (calls++, heard?.()));
    // The listening connection is cut, and so is the first one that tries to LISTEN again.
    proxy.cutListens = 1;
    const resumed = new Promise<void>((resolve) => (heard = resolve));
    proxy.cutAll();
    await resumed;
    await expect.poll(listening, { timeout: 15_000 }).toBe(1);
    // Whatever the retries told the listener, one notification now calls it once.
    await new Promise((resolve) => setTimeout(resolve, 500));
    calls = 0;
    const once = new Promise<void>((resolve) => (heard = resolve));
    await notify();
    await once;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect({ listening: await listening(), calls }).toEqual({ listening: 1, calls: 1 });
    await stop();
    await expect.poll(checkedOut).toBe(0);
    calls = 0;
    await notify();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(calls).toBe(0);
    await pool.end();
  });
});
