import { randomUUID } from "node:crypto";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import type { ClaimRequest } from "../../../src/persistence/provider.js";
import { RedisPersistenceProvider } from "../../../src/persistence/providers/redis.js";
import { deliveredEvent, fullSnapshot, nextRevision } from "../../../src/persistence/testing/fixtures.js";
import { describeWithServer } from "../../support/describe-with-server.js";
import { startRedis } from "../../support/redis-server.js";

// A reply lost with its connection: the script ran, its reply never arrived, and ioredis (with its
// default autoResendUnfulfilledCommands) sends the same command again once it has reconnected. A
// TCP proxy on 127.0.0.1 stands between the client and a real redis-server and, once armed, swallows
// the next reply the server sends and cuts that connection.

const server = await startRedis();

interface LossyProxy {
  readonly url: string;
  /** The next reply for which `when` holds (any, by default) is dropped and its connection cut. */
  loseNextReply(when?: (reply: Buffer) => boolean): void;
  close(): Promise<void>;
}

async function lossyProxy(port: number): Promise<LossyProxy> {
  let lose: ((reply: Buffer) => boolean) | undefined;
  const sockets = new Set<Socket>();
  const proxy: Server = createServer((client) => {
    const upstream = createConnection({ host: "127.0.0.1", port });
    const cut = (): void => void (client.destroy(), upstream.destroy());
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", cut).on("error", cut);
    }
    client.on("data", (chunk: Buffer) => upstream.write(chunk));
    upstream.on("data", (chunk: Buffer) => {
      if (lose?.(chunk) === true) {
        lose = undefined;
        cut();
      } else client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const { port: proxyPort } = proxy.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${proxyPort}`,
    loseNextReply: (when = () => true) => void (lose = when),
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => proxy.close(() => resolve()));
    },
  };
}

const isArrayReply = (reply: Buffer): boolean => reply[0] === 0x2a;

describeWithServer("RedisPersistenceProvider when a script's reply is lost and ioredis sends it again", server, (started) => {
  const admin = new Redis(started.url);
  let proxy: LossyProxy;
  let client: Redis;
  beforeAll(async () => {
    proxy = await lossyProxy(started.port);
    client = new Redis(proxy.url);
    client.on("error", () => undefined); // the cut connection; ioredis reconnects
    await client.ping();
  });
  afterEach(() => proxy.loseNextReply(() => false));
  afterAll(async () => {
    client.disconnect();
    await proxy.close();
    await admin.quit();
    await started.stop();
  });

  async function evalShaCalls(): Promise<number> {
    const info = await admin.info("commandstats");
    return Number(/^cmdstat_evalsha:calls=(\d+)/m.exec(info)?.[1] ?? 0);
  }

  /** Runs `call` with its reply lost once, and checks that the server ran its script twice. */
  async function withReplyLost<T>(call: () => Promise<T>, when?: (reply: Buffer) => boolean): Promise<T> {
    const before = await evalShaCalls();
    proxy.loseNextReply(when);
    const result = await call();
    expect(await evalShaCalls(), "the script ran, and ran again when the client sent it again").toBe(before + 2);
    return result;
  }

  /** A provider on a fresh prefix whose scripts are loaded: a write, a claim and a delivery have gone through. */
  async function warmProvider(keyPrefix = `replay-${randomUUID()}:`): Promise<RedisPersistenceProvider> {
    const provider = new RedisPersistenceProvider({ client, keyPrefix });
    const warm = fullSnapshot({ status: "completed" });
    await Promise.all([warm, fullSnapshot({ status: "completed" }), fullSnapshot({ status: "completed" })].map((snapshot) => provider.save(snapshot)));
    await provider.save(nextRevision(warm));
    await provider.deliver(deliveredEvent(warm));
    await provider.claim(claimRequest("warm"));
    return provider;
  }

  function claimRequest(owner: string, limit = 1): ClaimRequest {
    const now = Date.now();
    return { owner, now: new Date(now).toISOString(), leaseExpiresAt: new Date(now + 60_000).toISOString(), limit, maxAttempts: 5 };
  }

  it("a save whose reply was lost resolves when the client sends it again, and its revision is stored once", async () => {
    const provider = await warmProvider();
    const first = fullSnapshot({ status: "running" });
    await provider.save(first);
    const second = nextRevision(first);
    await withReplyLost(() => provider.save(second));
    expect(await provider.tryLoad(first.foundryExecutionId, first.workflowId)).toEqual(second);
    await provider.save(nextRevision(second));
    await expect(provider.save({ ...nextRevision(second), properties: { other: true } })).rejects.toMatchObject({ code: "SNAPSHOT_CONFLICT" });
  });

  it("a first save whose reply was lost resolves when the client sends it again", async () => {
    const provider = await warmProvider();
    const first = fullSnapshot({ status: "running" });
    await withReplyLost(() => provider.save(first));
    expect(await provider.tryLoad(first.foundryExecutionId, first.workflowId)).toEqual(first);
  });

  it("a group of saves whose reply was lost resolves each of its writes when the client sends it again", async () => {
    const provider = await warmProvider();
    const firsts = Array.from({ length: 6 }, () => fullSnapshot({ status: "running" }));
    await Promise.all(firsts.map((snapshot) => provider.save(snapshot)));
    const seconds = firsts.map((snapshot) => nextRevision(snapshot));
    // The first save goes alone; the others, arriving while it is in flight, go as one group, whose reply is an array.
    const outcomes = await withReplyLost(() => Promise.allSettled(seconds.map((snapshot) => provider.save(snapshot))), isArrayReply);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(seconds.map(() => "fulfilled"));
    for (const snapshot of seconds) expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
  });

  it("a first delivery whose reply was lost resolves true when the client sends it again; a later delivery of the same event resolves false", async () => {
    const provider = await warmProvider();
    const keys = { foundryExecutionId: `i-${randomUUID()}`, workflowId: "w" };
    const event = deliveredEvent(keys);
    expect(await withReplyLost(() => provider.deliver(event))).toBe(true);
    expect(await provider.deliver(event)).toBe(false);
    expect(await provider.receive(keys, event.name)).toEqual([event]);
  });

  it("a claim whose reply was lost returns, when the client sends it again, the records its first run took, and leases no other", async () => {
    const keyPrefix = `replay-${randomUUID()}:`;
    const provider = await warmProvider(keyPrefix);
    const workflowName = `Replay-${randomUUID()}`;
    const records = Array.from({ length: 3 }, () => fullSnapshot({ workflowName, status: "running", leaseExpiresAt: new Date(Date.now() - 1_000).toISOString(), attempts: 0 }));
    for (const snapshot of records) await provider.save(snapshot);
    const request = { ...claimRequest("worker-1"), filter: { workflowName } };
    const claimed = await withReplyLost(() => provider.claim(request), isArrayReply);
    expect(claimed).toHaveLength(1);
    const [taken] = claimed;
    expect(taken).toMatchObject({ owner: "worker-1", leaseExpiresAt: request.leaseExpiresAt, revision: 2, attempts: 1 });
    const stored = await Promise.all(records.map((snapshot) => provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)));
    expect(stored.filter((snapshot) => snapshot?.revision === 2)).toEqual(claimed);
    expect(stored.filter((snapshot) => snapshot?.revision === 1)).toHaveLength(2);
    // The records left are claimable at once by anyone else.
    expect(await provider.claim({ ...claimRequest("worker-2", 10), filter: { workflowName } })).toHaveLength(2);
    // Each claim that took something keeps its reply until its lease ends; the warm-up's took nothing.
    const replies: string[] = [];
    let cursor = "0";
    do {
      const [next, keys] = await admin.scan(cursor, "MATCH", `${keyPrefix}claimable:*`);
      replies.push(...keys);
      cursor = next;
    } while (cursor !== "0");
    expect(replies).toHaveLength(2);
    for (const key of replies) expect(await admin.pttl(key)).toBeGreaterThan(50_000);
    for (const key of replies) expect(await admin.pttl(key)).toBeLessThanOrEqual(60_000);
  });
});
