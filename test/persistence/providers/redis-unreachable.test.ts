import { Redis } from "ioredis";
import { createClient } from "redis";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PersistenceError } from "../../../src/persistence/index.js";
import { RedisPersistenceProvider, type IoRedisLikeClient } from "../../../src/persistence/providers/redis.js";
import { fullSnapshot } from "../../../src/persistence/testing/fixtures.js";
import { deadPort } from "../../support/ports.js";

// What a run sees when Redis cannot be used: each failure arrives as a PersistenceError naming the
// server and what to check, well before the driver would give up on its own (ioredis retries a
// command 20 times, over 10 s). Every bound below is the test's own timeout.


const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** The user owns the client; only this test silences the error events ioredis would print. */
function ioredis(url: string, options: { maxRetriesPerRequest?: number; enableOfflineQueue?: boolean } = {}): Redis {
  const client = new Redis(url, options);
  client.on("error", () => undefined);
  cleanups.push(() => client.disconnect());
  return client;
}

function nodeRedis(options: Parameters<typeof createClient>[0]) {
  const client = createClient(options);
  client.on("error", () => undefined);
  cleanups.push(() => (client.isOpen ? client.destroy() : undefined));
  return client;
}

/** A claim whose lease ends `leaseMs` from now. */
const claimFor = (leaseMs: number) => ({ owner: "w", now: new Date().toISOString(), leaseExpiresAt: new Date(Date.now() + leaseMs).toISOString(), limit: 1, maxAttempts: 3 });

const failureOf = (promise: Promise<unknown>): Promise<PersistenceError> =>
  promise.then(
    () => expect.unreachable("expected a rejection"),
    (error: unknown) => error as PersistenceError,
  );

describe("RedisPersistenceProvider with no server listening", () => {
  it("rejects every call of an ioredis client stuck reconnecting within commandTimeoutMs, naming the address and how to fail fast", async () => {
    const port = await deadPort();
    const provider = new RedisPersistenceProvider({ client: ioredis(`redis://:s3cret@127.0.0.1:${port}`), commandTimeoutMs: 100 });
    const snapshot = fullSnapshot();
    for (const attempt of [() => provider.save(snapshot), () => provider.tryLoad("order-42", "wf"), () => provider.list()]) {
      const error = await failureOf(attempt());
      expect(error).toBeInstanceOf(PersistenceError);
      expect(error.code).toBe("PERSISTENCE");
      expect(error.message).toMatch(
        new RegExp(`^\\[workflowforge:redis\\] \\w+ failed for .*: Redis at 127\\.0\\.0\\.1:${port} did not answer within 100 ms \\(commandTimeoutMs; ioredis status "\\w+"\\): check that the server is running and reachable at 127\\.0\\.0\\.1:${port}, or create the client to fail at once while it is down: new Redis\\(url, \\{ maxRetriesPerRequest: 1, enableOfflineQueue: false \\}\\)$`),
      );
      expect(error.message).not.toContain("s3cret");
      expect(error.cause).toBeInstanceOf(Error);
    }
    // Reconnecting by now, between attempts or in one: a claim is refused at once rather than queued.
    const refused = await failureOf(provider.claim(claimFor(60_000)));
    expect(refused.message).toMatch(/the client is not connected to Redis at 127\.0\.0\.1:\d+ \(ioredis status "(reconnecting|connecting)"\): a claim is not queued while the client reconnects/);
  }, 5_000);

  it("rejects a call of a node-redis client stuck reconnecting within commandTimeoutMs, naming the address and how to fail fast", async () => {
    const port = await deadPort();
    const client = nodeRedis({ url: `redis://user:s3cret@127.0.0.1:${port}` });
    void client.connect().catch(() => undefined);
    const error = await failureOf(new RedisPersistenceProvider({ client, commandTimeoutMs: 100 }).tryLoad("order-42", "wf"));
    expect(error).toBeInstanceOf(PersistenceError);
    expect(error.message).toBe(
      `[workflowforge:redis] tryLoad failed for instance "order-42" / workflow "wf": Redis at 127.0.0.1:${port} did not answer within 100 ms ` +
        `(commandTimeoutMs; node-redis client not ready): check that the server is running and reachable at 127.0.0.1:${port}, ` +
        "or create the client to fail at once while it is down: createClient({ url, socket: { reconnectStrategy: false } })",
    );
  }, 5_000);

  it("turns a fail-fast ioredis client's refusal into the same clear error at once, without waiting for commandTimeoutMs", async () => {
    const port = await deadPort();
    const client = ioredis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    const error = await failureOf(new RedisPersistenceProvider({ client, commandTimeoutMs: 600_000 }).save(fullSnapshot()));
    expect(error).toBeInstanceOf(PersistenceError);
    expect(error.message).toMatch(
      new RegExp(
        `: the client is not connected to Redis at 127\\.0\\.0\\.1:${port} \\(ioredis status "\\w+"\\): Stream isn't writeable and enableOfflineQueue options is false\\. ` +
          `Check that the server is running and reachable at 127\\.0\\.0\\.1:${port}, and that the client was connected before use \\(wait for its "ready" event\\) and not closed$`,
      ),
    );
    expect((error.cause as Error).message).toMatch(/enableOfflineQueue/);
  }, 5_000);

  it("turns a fail-fast node-redis client that gave up connecting into the same clear error at once", async () => {
    const port = await deadPort();
    const client = nodeRedis({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: false } });
    await expect(client.connect()).rejects.toThrow(/ECONNREFUSED/);
    const error = await failureOf(new RedisPersistenceProvider({ client, commandTimeoutMs: 600_000 }).delete("order-42", "wf"));
    expect(error).toBeInstanceOf(PersistenceError);
    expect(error.message).toBe(
      `[workflowforge:redis] delete failed for instance "order-42" / workflow "wf": the client is not connected to Redis at 127.0.0.1:${port} ` +
        `(node-redis client closed): The client is closed. Check that the server is running and reachable at 127.0.0.1:${port}, ` +
        "and that the client was connected before use (await client.connect()) and not closed",
    );
  }, 5_000);

  it("names the server when node-redis's own command timeout ends a command first", async () => {
    const port = await deadPort();
    const client = nodeRedis({ url: `redis://127.0.0.1:${port}`, commandOptions: { timeout: 50 } });
    void client.connect().catch(() => undefined);
    const error = await failureOf(new RedisPersistenceProvider({ client, commandTimeoutMs: 600_000 }).tryLoad("order-42", "wf"));
    expect(error.message).toMatch(new RegExp(`: the client is not connected to Redis at 127\\.0\\.0\\.1:${port} \\(node-redis client not ready\\): TimeoutError\\. Check that the server is running`));
  }, 5_000);
});

describe("RedisPersistenceProvider.subscribe with no server listening", () => {
  // The connections subscribe() makes with duplicate(), kept (with a count of their disconnect()
  // calls) to see that a failed subscribe closed them.
  interface Made {
    readonly connection: object;
    disconnects: number;
  }
  function duplicating<T extends { duplicate(): object }>(client: T): { client: T; made: Made[] } {
    const made: Made[] = [];
    const duplicate = client.duplicate.bind(client);
    const track = (connection: object): object => {
      const entry: Made = { connection, disconnects: 0 };
      const own = connection as { disconnect?: (...args: unknown[]) => unknown };
      const disconnect = own.disconnect?.bind(connection);
      if (disconnect !== undefined) own.disconnect = (...args) => ((entry.disconnects += 1), disconnect(...args));
      made.push(entry);
      return connection;
    };
    return { client: Object.assign(client, { duplicate: () => track(duplicate()) }), made };
  }

  it("rejects with PersistenceError for call subscribe within commandTimeoutMs when an ioredis client keeps reconnecting, and drops its connection", async () => {
    const port = await deadPort();
    const { client, made } = duplicating(ioredis(`redis://127.0.0.1:${port}`));
    const error = await failureOf(new RedisPersistenceProvider({ client, commandTimeoutMs: 100 }).subscribe(() => undefined));
    expect(error).toBeInstanceOf(PersistenceError);
    expect(error).toMatchObject({ code: "PERSISTENCE", call: "subscribe" });
    expect(error.message).toMatch(new RegExp(`^\\[workflowforge:redis\\] subscribe failed .*Redis at 127\\.0\\.0\\.1:${port} did not answer within 100 ms`));
    // ioredis leaves the status of a connection dropped while reconnecting at "reconnecting", with no reconnect pending.
    expect(made.map((entry) => entry.disconnects)).toEqual([1]);
  }, 5_000);

  it("rejects at once, with the connection's error, through a fail-fast ioredis client that is not lazy", async () => {
    const port = await deadPort();
    const client = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    client.on("error", () => undefined);
    try {
      const error = await failureOf(new RedisPersistenceProvider({ client, commandTimeoutMs: 600_000 }).subscribe(() => undefined));
      expect(error).toMatchObject({ code: "PERSISTENCE", call: "subscribe" });
      expect((error.cause as Error).message).toMatch(/ECONNREFUSED/);
    } finally {
      client.disconnect();
    }
  }, 5_000);

  it("rejects at once through a fail-fast lazy ioredis client", async () => {
    const port = await deadPort();
    const client = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
    client.on("error", () => undefined);
    const error = await failureOf(new RedisPersistenceProvider({ client, commandTimeoutMs: 600_000 }).subscribe(() => undefined));
    expect(error).toMatchObject({ code: "PERSISTENCE", call: "subscribe" });
    expect(error.message).toMatch(new RegExp(`Redis at 127\\.0\\.0\\.1:${port}`));
  }, 5_000);

  it("rejects within commandTimeoutMs when a node-redis client keeps reconnecting, and closes its connection; at once when it fails fast", async () => {
    const port = await deadPort();
    const reconnecting = duplicating(nodeRedis({ url: `redis://127.0.0.1:${port}` }));
    const slow = await failureOf(new RedisPersistenceProvider({ client: reconnecting.client, commandTimeoutMs: 100 }).subscribe(() => undefined));
    expect(slow).toMatchObject({ code: "PERSISTENCE", call: "subscribe" });
    expect(slow.message).toMatch(/did not answer within 100 ms/);
    expect(reconnecting.made.map((entry) => (entry.connection as { isOpen: boolean }).isOpen)).toEqual([false]);
    const failFast = nodeRedis({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: false } });
    const quick = await failureOf(new RedisPersistenceProvider({ client: failFast, commandTimeoutMs: 600_000 }).subscribe(() => undefined));
    expect((quick.cause as Error).message).toMatch(/ECONNREFUSED/);
  }, 5_000);
});

describe("RedisPersistenceProvider commandTimeoutMs", () => {
  const client: IoRedisLikeClient = { call: () => Promise.resolve(null) };

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, "100", null])("refuses %s with a TypeError naming options.commandTimeoutMs", (value) => {
    expect(() => new RedisPersistenceProvider({ client, commandTimeoutMs: value as number })).toThrow(TypeError);
    expect(() => new RedisPersistenceProvider({ client, commandTimeoutMs: value as number })).toThrow(/options\.commandTimeoutMs must be a positive number of milliseconds up to 2147483647/);
  });

  it("accepts 1 ms up to 2^31 - 1 ms", () => {
    for (const commandTimeoutMs of [1, 0.5 + 1, 2 ** 31 - 1]) expect(new RedisPersistenceProvider({ client, commandTimeoutMs })).toBeInstanceOf(RedisPersistenceProvider);
  });

  it("defaults to 10 s: a command unanswered for 10 s rejects, one answered leaves no timer behind", async () => {
    vi.useFakeTimers();
    try {
      const answered = new RedisPersistenceProvider({ client });
      await answered.tryLoad("order-42", "wf");
      expect(vi.getTimerCount()).toBe(0);
      const silent = new RedisPersistenceProvider({ client: { call: () => new Promise(() => undefined) } });
      const failure = failureOf(silent.tryLoad("order-42", "wf"));
      await vi.advanceTimersByTimeAsync(9_999);
      expect(vi.getTimerCount()).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      expect((await failure).message).toMatch(/: the Redis server did not answer within 10000 ms \(commandTimeoutMs\): check that the server is running and reachable$/);
    } finally {
      vi.useRealTimers();
    }
  });

  it("says the server is slow or blocked when the client reports itself connected", async () => {
    const busy = { status: "ready", options: { host: "::1", port: 6380 }, call: () => new Promise(() => undefined) };
    const error = await failureOf(new RedisPersistenceProvider({ client: busy, commandTimeoutMs: 20 }).tryLoad("order-42", "wf"));
    expect(error.message).toMatch(
      /: Redis at \[::1\]:6380 did not answer within 20 ms \(commandTimeoutMs; ioredis status "ready"\): the client is connected, so the server is slow or blocked; look for a long command \(SLOWLOG GET\) or raise commandTimeoutMs$/,
    );
  });

  it("waits for a claim until its lease ends, not commandTimeoutMs: the server may still run it in time", async () => {
    const busy = { status: "ready", options: { host: "::1", port: 6380 }, call: () => new Promise(() => undefined) };
    const request = claimFor(300);
    const error = await failureOf(new RedisPersistenceProvider({ client: busy, commandTimeoutMs: 20 }).claim(request));
    // Timers fire at their time or later, to the millisecond.
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(request.leaseExpiresAt) - 1);
    // Raising commandTimeoutMs would not help: the lease bounds the wait.
    expect(error.message).toMatch(/: Redis at \[::1\]:6380 did not answer within \d+ ms \(a claim waits until its lease ends; ioredis status "ready"\): the client is connected, so the server is slow or blocked; look for a long command \(SLOWLOG GET\)$/);
  });

  it("sends no claim through a client that is reconnecting: it would queue it, to run with no one waiting", async () => {
    const sent: string[][] = [];
    const reconnecting = { status: "reconnecting", options: { host: "::1", port: 6380 }, call: (...args: string[]) => (sent.push(args), new Promise(() => undefined)) };
    const started = Date.now();
    const error = await failureOf(new RedisPersistenceProvider({ client: reconnecting, commandTimeoutMs: 60_000 }).claim(claimFor(60_000)));
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(sent).toEqual([]);
    expect(error.message).toMatch(/: the client is not connected to Redis at \[::1\]:6380 \(ioredis status "reconnecting"\): a claim is not queued while the client reconnects, as it could run after its caller gave up on it\. Check/);
    // An ioredis reconnect attempt is "connecting" with retries counted, for up to its connectTimeout.
    const attempting = { ...reconnecting, status: "connecting", retryAttempts: 3 };
    const nodeRedisReconnecting = { isOpen: true, isReady: false, sendCommand: (args: string[]) => (sent.push(args), new Promise(() => undefined)) };
    for (const client of [attempting, nodeRedisReconnecting]) await failureOf(new RedisPersistenceProvider({ client }).claim(claimFor(60_000)));
    expect(sent).toEqual([]);
  });

  it("gives a claim to an ioredis client making its first connection (lazy or not): it connects on it", async () => {
    for (const status of ["wait", "connecting"]) {
      const sent: string[][] = [];
      const connecting = { status, retryAttempts: 0, call: (...args: string[]) => (sent.push(args), Promise.resolve([])) };
      expect(await new RedisPersistenceProvider({ client: connecting }).claim(claimFor(60_000))).toEqual([]);
      expect(sent.length).toBeGreaterThan(0);
    }
  });

  it("waits for a claim with a lease past the longest timer (about 24.8 days) rather than rejecting at once", async () => {
    let answer: (reply: unknown) => void = () => undefined;
    const connected = { status: "ready", call: () => new Promise((resolve) => (answer = resolve)) };
    const warnings: string[] = [];
    const warned = (warning: Error) => void warnings.push(warning.name);
    process.on("warning", warned);
    try {
      const claimed = new RedisPersistenceProvider({ client: connected, commandTimeoutMs: 20 }).claim(claimFor(30 * 86_400_000));
      let settled = false;
      void claimed.then(() => (settled = true), () => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(settled).toBe(false);
      answer([]);
      expect(await claimed).toEqual([]);
      expect(warnings).not.toContain("TimeoutOverflowWarning");
    } finally {
      process.off("warning", warned);
    }
  });

  it("a reply that arrives after the timeout is ignored, a late failure included", async () => {
    let fail: (error: Error) => void = () => undefined;
    const late = { call: () => new Promise((_, reject) => (fail = reject)) };
    const error = await failureOf(new RedisPersistenceProvider({ client: late, commandTimeoutMs: 20 }).tryLoad("order-42", "wf"));
    expect(error.message).toMatch(/did not answer within 20 ms/);
    fail(new Error("Connection is closed."));
    // An unhandled rejection here would fail the run.
    await new Promise((resolve) => setImmediate(resolve));
  });
});

describe("RedisPersistenceProvider errors name the server from the client's own options", () => {
  const refusing = (fields: object, message = "NOAUTH Authentication required.") => ({ ...fields, call: () => Promise.reject(new Error(message)) });

  it.each([
    ["ioredis host and port", { status: "ready", options: { host: "cache.internal", port: 6390, password: "s3cret" } }, "Redis at cache.internal:6390"],
    ["an ioredis Unix socket", { status: "ready", options: { path: "/run/redis.sock", host: "localhost", port: 6379 } }, "Redis at socket /run/redis.sock"],
    ["ioredis sentinels", { status: "ready", options: { sentinels: [{ host: "10.0.0.1", port: 26379 }, { host: "10.0.0.2" }], name: "mymaster" } }, 'Redis at master "mymaster" via sentinels 10.0.0.1:26379, 10.0.0.2:26379'],
    ["a node-redis url without socket options", { isReady: true, isOpen: true, options: { url: "redis://app:s3cret@cache.internal:6391/2" } }, "Redis at cache.internal:6391"],
    ["node-redis defaults", { isReady: true, isOpen: true, options: {} }, "Redis at localhost:6379"],
    ["a client that says nothing", {}, "the Redis server"],
  ])("%s; refused credentials say to check the user and password", async (_, fields, server) => {
    const error = await failureOf(new RedisPersistenceProvider({ client: refusing(fields) }).tryLoad("order-42", "wf"));
    expect(error.message).toBe(`[workflowforge:redis] tryLoad failed for instance "order-42" / workflow "wf": ${server} refused the client's credentials: NOAUTH Authentication required. Check the user and password the client was given`);
    expect(error.message).not.toContain("s3cret");
  });

  it("keeps the driver's own message for a command the server refused while connected", async () => {
    const error = await failureOf(new RedisPersistenceProvider({ client: refusing({ status: "ready" }, "OOM command not allowed") }).tryLoad("order-42", "wf"));
    expect(error.message).toBe('[workflowforge:redis] tryLoad failed for instance "order-42" / workflow "wf": OOM command not allowed');
  });
});
