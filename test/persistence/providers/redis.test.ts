import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { RESP_TYPES, createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isWorkflowForgeError } from "../../../src/errors.js";
import { PersistenceError, SnapshotCorruptedError, type WorkflowExecutionSnapshot } from "../../../src/persistence/index.js";
import { RedisPersistenceProvider, type IoRedisLikeClient, type NodeRedisLikeClient } from "../../../src/persistence/providers/redis.js";
import { deliveredEvent, fullSnapshot, nextRevision } from "../../../src/persistence/testing/fixtures.js";
import { describeWithServer } from "../../support/describe-with-server.js";
import { taggedJsonCodec } from "../../support/custom-codec.js";
import { startRedis } from "../../support/redis-server.js";
import { describeUnreadableListing } from "./unreadable-cases.js";

const server = await startRedis();

/** A client of one driver, plus a wrapper that records every command the provider sends. */
interface Connected {
  readonly client: IoRedisLikeClient | NodeRedisLikeClient;
  readonly counted: IoRedisLikeClient | NodeRedisLikeClient;
  readonly commands: string[];
  close(): Promise<void>;
}

const drivers: { name: string; connect(url: string): Promise<Connected> }[] = [
  {
    name: "ioredis",
    async connect(url) {
      const client = new Redis(url);
      await client.ping();
      const commands: string[] = [];
      const counted: IoRedisLikeClient = { call: (command, ...args) => (commands.push(command), client.call(command, ...args)) };
      return { client, counted, commands, close: async () => void (await client.quit()) };
    },
  },
  {
    name: "node-redis",
    async connect(url) {
      const client = await createClient({ url }).connect();
      const commands: string[] = [];
      const counted: NodeRedisLikeClient = { sendCommand: (args) => (commands.push(args[0] ?? ""), client.sendCommand(args)) };
      return { client, counted, commands, close: () => client.close() };
    },
  },
];

const prefix = (): string => `test-${randomUUID()}:`;
const recordKey = (keyPrefix: string, s: { foundryExecutionId: string; workflowId: string }): string =>
  `${keyPrefix}s:${JSON.stringify([s.foundryExecutionId, s.workflowId])}`;

async function commandCalls(admin: Redis, command: string): Promise<number> {
  const info = await admin.info("commandstats");
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, "m").exec(info);
  return Number(match?.[1] ?? 0);
}

describeWithServer("RedisPersistenceProvider on a real redis-server", server, (started) => {
  const admin = new Redis(started.url);
  afterAll(async () => {
    await admin.quit();
    await started.stop();
  });

  describe.each(drivers)("RedisPersistenceProvider with $name", (driver) => {
    let connected: Connected;
    beforeAll(async () => {
      connected = await driver.connect(started.url);
    });
    afterAll(() => connected.close());

    describeUnreadableListing(() => {
      const keyPrefix = prefix();
      return Promise.resolve({ provider: new RedisPersistenceProvider({ client: connected.client, keyPrefix }), writer: (codec) => new RedisPersistenceProvider({ client: connected.client, keyPrefix, codec }) });
    });

    it("save, tryLoad and delete each take exactly one round trip once the scripts are cached", async () => {
      const provider = new RedisPersistenceProvider({ client: connected.counted, keyPrefix: prefix() });
      // A first save and a later one run different scripts: the warm-up caches both.
      const warmup = fullSnapshot();
      await provider.save(warmup);
      await provider.save(nextRevision(warmup));
      await provider.delete(warmup.foundryExecutionId, warmup.workflowId);
      const first = fullSnapshot();
      await provider.save(first);
      connected.commands.length = 0;
      await provider.save(nextRevision(first));
      expect(connected.commands).toEqual(["EVALSHA"]);
      await provider.tryLoad(first.foundryExecutionId, first.workflowId);
      expect(connected.commands).toEqual(["EVALSHA", "HMGET"]);
      await provider.delete(first.foundryExecutionId, first.workflowId);
      expect(connected.commands).toEqual(["EVALSHA", "HMGET", "EVALSHA"]);
    });

    it("claim() with a lease that has already ended takes every match, even when claiming moves records across the walk's pages", async () => {
      const provider = new RedisPersistenceProvider({ client: connected.client, keyPrefix: prefix() });
      const unleased = (instance: string, workflowName: string): WorkflowExecutionSnapshot => {
        const snapshot: Record<string, unknown> = { ...fullSnapshot({ foundryExecutionId: instance, workflowId: "w", workflowName, status: "running" }) };
        delete snapshot.leaseExpiresAt;
        return snapshot as unknown as WorkflowExecutionSnapshot;
      };
      // 62 records of another workflow sort first (all score 0), so the walk's first page of 64
      // ends inside the three wanted ones: claiming the first two moves them behind the third.
      for (let index = 0; index < 62; index++) await provider.save(unleased(`a${String(index).padStart(3, "0")}`, "Other"));
      for (const instance of ["b1", "b2", "b3"]) await provider.save(unleased(instance, "Wanted"));
      // A lease that ends before the claim's own `now` (and after the server's) keeps what it claims in the window.
      const now = Date.now();
      const claimed = await provider.claim({ owner: "o", now: new Date(now + 60_000).toISOString(), leaseExpiresAt: new Date(now + 30_000).toISOString(), limit: 10, maxAttempts: 3, filter: { workflowName: "Wanted" } });
      expect(claimed.map((snapshot) => snapshot.foundryExecutionId).sort()).toEqual(["b1", "b2", "b3"]);
    });

    it("claim() with a workflowId filter takes only that workflow's records, even when ids differ only by a lone surrogate", async () => {
      const provider = new RedisPersistenceProvider({ client: connected.client, keyPrefix: prefix() });
      const unleased = (workflowId: string): WorkflowExecutionSnapshot => {
        const snapshot: Record<string, unknown> = { ...fullSnapshot({ status: "running", workflowId }) };
        delete snapshot.leaseExpiresAt;
        return snapshot as unknown as WorkflowExecutionSnapshot;
      };
      const [low, replaced] = [unleased("flow\uDFFF"), unleased("flow\uFFFD")];
      for (const snapshot of [low, replaced]) await provider.save(snapshot);
      const now = Date.now();
      const request = { owner: "o", now: new Date(now).toISOString(), leaseExpiresAt: new Date(now + 30_000).toISOString(), limit: 10, maxAttempts: 5 };
      expect(await provider.claim({ ...request, filter: { workflowId: "flow\uD800" } })).toEqual([]);
      expect((await provider.claim({ ...request, filter: { workflowId: "flow\uDFFF" } })).map((s) => s.workflowId)).toEqual(["flow\uDFFF"]);
      expect((await provider.claim({ ...request, filter: { workflowId: "flow\uFFFD" } })).map((s) => s.workflowId)).toEqual(["flow\uFFFD"]);
    });

    it("after SCRIPT FLUSH each save script falls back to EVAL once, then EVALSHA is used again", async () => {
      const provider = new RedisPersistenceProvider({ client: connected.counted, keyPrefix: prefix() });
      const first = fullSnapshot();
      await admin.script("FLUSH");
      connected.commands.length = 0;
      await provider.save(first);
      const second = nextRevision(first);
      await provider.save(second);
      await provider.save(nextRevision(second));
      // The first save's script, then the one of every later save.
      expect(connected.commands).toEqual(["EVALSHA", "EVAL", "EVALSHA", "EVAL", "EVALSHA"]);
      expect(await provider.tryLoad(first.foundryExecutionId, first.workflowId)).toMatchObject({ revision: 3 });
    });

    it("an aborted signal rejects before any command is sent", async () => {
      const provider = new RedisPersistenceProvider({ client: connected.counted, keyPrefix: prefix() });
      connected.commands.length = 0;
      const signal = AbortSignal.abort();
      await expect(provider.save(fullSnapshot(), signal)).rejects.toThrow();
      await expect(provider.tryLoad("a", "b", signal)).rejects.toThrow();
      await expect(provider.delete("a", "b", signal)).rejects.toThrow();
      await expect(provider.list({}, signal)).rejects.toThrow();
      expect(connected.commands).toEqual([]);
    });

    it("a refused compare-and-set is a SnapshotConflictError from source redis naming the stored revision", async () => {
      const provider = new RedisPersistenceProvider({ client: connected.client, keyPrefix: prefix() });
      const first = fullSnapshot();
      await provider.save(first);
      const error = await provider.save({ ...first, properties: { again: true } }).catch((e: unknown) => e);
      expect(isWorkflowForgeError(error) && error.code).toBe("SNAPSHOT_CONFLICT");
      expect((error as Error).message).toMatch(/^\[workflowforge:redis\] save failed for instance ".*": conflict: revision 1 was refused: the stored revision is 1/);
    });

    it("refuses a second save of the stored revision, even of the very same snapshot: only a resend of the call that wrote it resolves", async () => {
      const keyPrefix = prefix();
      const [one, two] = [new RedisPersistenceProvider({ client: connected.client, keyPrefix }), new RedisPersistenceProvider({ client: connected.client, keyPrefix })];
      const first = fullSnapshot({ status: "running" });
      const second = nextRevision(first);
      // Two enqueues of one instance in the same millisecond, two runs computing the same checkpoint: one writer wins.
      await one.save(first);
      await expect(two.save(first)).rejects.toMatchObject({ code: "SNAPSHOT_CONFLICT" });
      await expect(one.save(first)).rejects.toMatchObject({ code: "SNAPSHOT_CONFLICT" });
      await two.save(second);
      await expect(one.save(second)).rejects.toMatchObject({ code: "SNAPSHOT_CONFLICT" });
      expect(await one.tryLoad(first.foundryExecutionId, first.workflowId)).toEqual(second);
    });

    it("a later save refuses a stored revision it did not write (compared as text, not as a number), and names it", async () => {
      const keyPrefix = prefix();
      const provider = new RedisPersistenceProvider({ client: connected.client, keyPrefix });
      const first = fullSnapshot();
      await provider.save(first);
      for (const stored of ["01", "1.0", "not a number"]) {
        await admin.hset(recordKey(keyPrefix, first), "revision", stored);
        const error = await provider.save(nextRevision(first)).catch((e: unknown) => e);
        expect(isWorkflowForgeError(error) && error.code).toBe("SNAPSHOT_CONFLICT");
        expect((error as Error).message).toContain(`revision 2 was refused: the stored revision is ${stored}`);
      }
      await admin.hset(recordKey(keyPrefix, first), "revision", "1");
      await provider.save(nextRevision(first));
      expect(await provider.tryLoad(first.foundryExecutionId, first.workflowId)).toMatchObject({ revision: 2 });
    });

    it("a closed client makes save and tryLoad reject with PersistenceError from source redis, with call, keys and cause", async () => {
      const own = await driver.connect(started.url);
      const provider = new RedisPersistenceProvider({ client: own.client, keyPrefix: prefix() });
      await own.close();
      const snapshot = fullSnapshot();
      const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
      for (const [call, attempt] of [
        ["save", () => provider.save(snapshot)],
        ["tryLoad", () => provider.tryLoad(keys.foundryExecutionId, keys.workflowId)],
      ] as const) {
        const error = await attempt().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(PersistenceError);
        expect(error).toMatchObject({ code: "PERSISTENCE", call, keys });
        expect((error as Error).message).toMatch(/^\[workflowforge:redis\] /);
        expect((error as Error).cause).toBeInstanceOf(Error);
      }
    });
  });

  describe("RedisPersistenceProvider", () => {
    it("list walks the index with SSCAN in batches and never sends KEYS", async () => {
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix: prefix() });
      const saved = Array.from({ length: 450 }, (_, i) => fullSnapshot({ status: i % 3 === 0 ? "running" : "failed" }));
      await Promise.all(saved.map((snapshot) => provider.save(snapshot)));
      const [keysBefore, sscanBefore] = [await commandCalls(admin, "keys"), await commandCalls(admin, "sscan")];
      const running = await provider.list({ status: "running" });
      expect(running.map((s) => s.foundryExecutionId).sort()).toEqual(saved.filter((s) => s.status === "running").map((s) => s.foundryExecutionId).sort());
      expect(await commandCalls(admin, "keys")).toBe(keysBefore);
      expect(await commandCalls(admin, "sscan")).toBeGreaterThan(sscanBefore + 1);
    });

    it("keyPrefix isolates two providers on one server", async () => {
      const a = new RedisPersistenceProvider({ client: admin, keyPrefix: prefix() });
      const b = new RedisPersistenceProvider({ client: admin, keyPrefix: prefix() });
      const inA = fullSnapshot({ properties: { owner: "a" } });
      const inB = { ...inA, properties: { owner: "b" } };
      await a.save(inA);
      await b.save(inB);
      expect(await a.tryLoad(inA.foundryExecutionId, inA.workflowId)).toEqual(inA);
      expect(await b.list()).toEqual([inB]);
      await a.delete(inA.foundryExecutionId, inA.workflowId);
      expect(await b.tryLoad(inA.foundryExecutionId, inA.workflowId)).toEqual(inB);
    });

    it('writes under the prefix "workflowforge:" when no keyPrefix is given', async () => {
      const provider = new RedisPersistenceProvider({ client: admin });
      const snapshot = fullSnapshot();
      await provider.save(snapshot);
      const member = JSON.stringify([snapshot.foundryExecutionId, snapshot.workflowId]);
      expect(await admin.exists(recordKey("workflowforge:", snapshot))).toBe(1);
      expect(await admin.sismember("workflowforge:index", member)).toBe(1);
      await provider.delete(snapshot.foundryExecutionId, snapshot.workflowId);
      expect(await admin.exists(recordKey("workflowforge:", snapshot))).toBe(0);
    });

    it("completedTtlSeconds expires completed snapshots only, and a later save of another status clears it", async () => {
      const keyPrefix = prefix();
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix, completedTtlSeconds: 60 });
      const running = fullSnapshot({ status: "running" });
      const key = recordKey(keyPrefix, running);
      await provider.save(running);
      expect(await admin.pttl(key)).toBe(-1);
      const completed = nextRevision(running, { status: "completed" });
      await provider.save(completed);
      expect(await admin.ttl(key)).toBeGreaterThan(55);
      expect(await admin.ttl(key)).toBeLessThanOrEqual(60);
      await provider.save(nextRevision(completed, { status: "running" }));
      expect(await admin.pttl(key)).toBe(-1);
    });

    it("completedTtlSeconds: an event delivered to a completed, expiring record expires with it", async () => {
      const keyPrefix = prefix();
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix, completedTtlSeconds: 60 });
      const completed = fullSnapshot({ status: "completed" });
      await provider.save(completed);
      expect(await provider.deliver(deliveredEvent(completed))).toBe(true);
      const eventsKey = `${keyPrefix}e:${JSON.stringify([completed.foundryExecutionId, completed.workflowId])}`;
      const [record, events] = [await admin.pttl(recordKey(keyPrefix, completed)), await admin.pttl(eventsKey)];
      expect(events).toBeGreaterThan(55_000);
      expect(events).toBeLessThanOrEqual(record);
      expect(record - events).toBeLessThan(1_000);
    });

    it("reads an event stored before deliveries carried their call's token, and a delivery of its eventId resolves false", async () => {
      const keyPrefix = prefix();
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix });
      const event = deliveredEvent({ foundryExecutionId: `old-${randomUUID()}`, workflowId: "w" });
      await provider.deliver(event);
      const [eventsKey, field] = [`${keyPrefix}e:${JSON.stringify([event.foundryExecutionId, event.workflowId])}`, JSON.stringify(event.eventId)];
      const stored = (await admin.hget(eventsKey, field))!;
      const untokened = stored.replace(/,"[^"]*"\]\n/, "]\n");
      expect(untokened).toMatch(/^0 \[.*\]\n/);
      expect(untokened).not.toBe(stored);
      await admin.hset(eventsKey, field, untokened);
      expect(await provider.receive(event, event.name)).toEqual([event]);
      expect(await provider.deliver(event)).toBe(false);
    });

    it("an event delivered to a record that does not expire does not expire either", async () => {
      const keyPrefix = prefix();
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix, completedTtlSeconds: 60 });
      const running = fullSnapshot({ status: "running" });
      await provider.save(running);
      await provider.deliver(deliveredEvent(running));
      const loose = deliveredEvent({ foundryExecutionId: `none-${randomUUID()}`, workflowId: "w" });
      await provider.deliver(loose);
      for (const keys of [running, loose]) expect(await admin.pttl(`${keyPrefix}e:${JSON.stringify([keys.foundryExecutionId, keys.workflowId])}`)).toBe(-1);
    });

    it("a save of another status clears the expiry of a completed record, even by a provider without completedTtlSeconds", async () => {
      const keyPrefix = prefix();
      const [expiring, plain] = [new RedisPersistenceProvider({ client: admin, keyPrefix, completedTtlSeconds: 60 }), new RedisPersistenceProvider({ client: admin, keyPrefix })];
      const completed = fullSnapshot({ status: "completed" });
      await expiring.save(completed);
      expect(await admin.ttl(recordKey(keyPrefix, completed))).toBeGreaterThan(0);
      // The instance runs again in a process whose provider keeps completed records for good.
      await plain.save(nextRevision(completed, { status: "running" }));
      expect(await admin.pttl(recordKey(keyPrefix, completed))).toBe(-1);
    });

    it("a dead letter an earlier version took out of the claimable set comes back once saved again (a retry)", async () => {
      const keyPrefix = prefix();
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix });
      const dead: Record<string, unknown> = { ...fullSnapshot({ status: "failed", attempts: 3 }) };
      delete dead.leaseExpiresAt;
      const stored = dead as unknown as WorkflowExecutionSnapshot;
      await provider.save(stored);
      // What the earlier claim script did with a dead letter: removed it from the set, put it nowhere.
      await admin.zrem(`${keyPrefix}claimable`, JSON.stringify([stored.foundryExecutionId, stored.workflowId]));
      await provider.save(nextRevision(stored, { attempts: 0 }));
      const now = Date.now();
      const claimed = await provider.claim({ owner: "o", now: new Date(now).toISOString(), leaseExpiresAt: new Date(now + 30_000).toISOString(), limit: 10, maxAttempts: 3 });
      expect(claimed.map((snapshot) => snapshot.foundryExecutionId)).toEqual([stored.foundryExecutionId]);
    });

    it("without completedTtlSeconds a completed snapshot does not expire", async () => {
      const keyPrefix = prefix();
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix });
      const completed = fullSnapshot({ status: "completed" });
      await provider.save(completed);
      expect(await admin.pttl(recordKey(keyPrefix, completed))).toBe(-1);
    });

    it("list skips snapshots that expired and removes them from the index", async () => {
      const keyPrefix = prefix();
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix, completedTtlSeconds: 60 });
      const kept = fullSnapshot({ status: "running" });
      const expiring = fullSnapshot({ status: "completed" });
      await provider.save(kept);
      await provider.save(expiring);
      await admin.pexpire(recordKey(keyPrefix, expiring), 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await admin.scard(`${keyPrefix}index`)).toBe(2);
      expect(await provider.list()).toEqual([kept]);
      expect(await admin.smembers(`${keyPrefix}index`)).toEqual([JSON.stringify([kept.foundryExecutionId, kept.workflowId])]);
    });

    it("stores the codec's text in the data field and decodes through the codec, list included", async () => {
      const keyPrefix = prefix();
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix, codec: taggedJsonCodec });
      const snapshot = fullSnapshot();
      await provider.save(snapshot);
      expect(await admin.hget(recordKey(keyPrefix, snapshot), "data")).toBe(taggedJsonCodec.encode(snapshot));
      expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
      expect(await provider.list()).toEqual([snapshot]);
    });

    it("a corrupted data field raises SnapshotCorruptedError naming the keys, from tryLoad and list", async () => {
      const keyPrefix = prefix();
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix });
      const snapshot = fullSnapshot();
      await provider.save(snapshot);
      await admin.hset(recordKey(keyPrefix, snapshot), "data", "garbage{");
      const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
      for (const attempt of [() => provider.tryLoad(keys.foundryExecutionId, keys.workflowId), () => provider.list()]) {
        const error = await attempt().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(SnapshotCorruptedError);
        expect(error).toMatchObject({ code: "SNAPSHOT_CORRUPTED", keys });
        expect((error as Error).message).toContain(snapshot.foundryExecutionId);
      }
    });

    it("works with a node-redis client whose typeMapping returns Buffers, list included", async () => {
      const client = await createClient({ url: started.url }).connect();
      try {
        const buffers = client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
        const provider = new RedisPersistenceProvider({ client: buffers, keyPrefix: prefix() });
        const snapshot = fullSnapshot({ properties: { text: "é✓ 漢字 🚀" } });
        await provider.save(snapshot);
        expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
        expect(await provider.list()).toEqual([snapshot]);
      } finally {
        await client.close();
      }
    });

    it("works with an ioredis client that has its own keyPrefix, list and claim included", async () => {
      const prefixed = new Redis(started.url, { keyPrefix: prefix() });
      try {
        const provider = new RedisPersistenceProvider({ client: prefixed, keyPrefix: prefix() });
        const snapshot = fullSnapshot();
        await provider.save(snapshot);
        await provider.save(nextRevision(snapshot));
        expect(await provider.list({ workflowId: snapshot.workflowId })).toEqual([await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)]);
        const now = Date.now();
        const claimed = await provider.claim({ owner: "o", now: new Date(now).toISOString(), leaseExpiresAt: new Date(now + 30_000).toISOString(), limit: 10, maxAttempts: 5, filter: { workflowId: snapshot.workflowId } });
        expect(claimed).toEqual([await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)]);
      } finally {
        await prefixed.quit();
      }
    });
  });
});

describe("RedisPersistenceProvider options", () => {
  const client: IoRedisLikeClient = { call: () => Promise.resolve(null) };

  const invalid = [
    { option: "client", value: "missing", options: {} },
    { option: "client", value: "{}", options: { client: {} } },
    { option: "client", value: "null", options: { client: null } },
    { option: "keyPrefix", value: '""', options: { client, keyPrefix: "" } },
    { option: "keyPrefix", value: "7", options: { client, keyPrefix: 7 } },
    { option: "completedTtlSeconds", value: "0", options: { client, completedTtlSeconds: 0 } },
    { option: "completedTtlSeconds", value: "1.5", options: { client, completedTtlSeconds: 1.5 } },
    { option: "completedTtlSeconds", value: '"60"', options: { client, completedTtlSeconds: "60" } },
    { option: "codec", value: "without decode", options: { client, codec: { encode: () => "" } } },
  ];
  for (const { option, value, options } of invalid) {
    it(`options.${option} = ${value} is a TypeError naming options.${option}`, () => {
      expect(() => new RedisPersistenceProvider(options as never)).toThrow(new RegExp(`options\\.${option}\\b`));
      expect(() => new RedisPersistenceProvider(options as never)).toThrow(TypeError);
    });
  }

  // Redis stores keys as UTF-8, where each lone surrogate becomes U+FFFD: the first two would share every key.
  const lone = [
    { keyPrefix: "tenant-\uD800:", unit: "D800", index: 7 },
    { keyPrefix: "tenant-\uDC00:", unit: "DC00", index: 7 },
    { keyPrefix: "a\u{1F600}\uDBFF", unit: "DBFF", index: 3 },
  ];
  for (const { keyPrefix, unit, index } of lone) {
    it(`options.keyPrefix ${JSON.stringify(keyPrefix)} (a lone surrogate) is a TypeError naming options.keyPrefix and the surrogate`, () => {
      expect(() => new RedisPersistenceProvider({ client, keyPrefix })).toThrow(TypeError);
      expect(() => new RedisPersistenceProvider({ client, keyPrefix })).toThrow("options.keyPrefix must be well-formed UTF-16");
      expect(() => new RedisPersistenceProvider({ client, keyPrefix })).toThrow(`lone surrogate (\\u${unit}) at index ${index}`);
    });
  }

  it("accepts a keyPrefix with characters outside the BMP (surrogate pairs)", () => {
    expect(() => new RedisPersistenceProvider({ client, keyPrefix: "tenant-\u{1F600}:" })).not.toThrow();
  });

  it("rejects an unknown option with a TypeError naming it, as a misspelt one would otherwise be ignored", () => {
    expect(() => new RedisPersistenceProvider({ client, completedTTLSeconds: 60 } as never)).toThrow(TypeError);
    expect(() => new RedisPersistenceProvider({ client, completedTTLSeconds: 60 } as never)).toThrow(/unknown option "completedTTLSeconds"/);
  });

  it("drives a client that has call() through call(), even when it also has sendCommand() (ioredis has both)", async () => {
    const seen: unknown[] = [];
    const both = {
      call: (...args: string[]) => (seen.push(["call", ...args]), Promise.resolve(null)),
      sendCommand: (args: string[]) => (seen.push(["sendCommand", ...args]), Promise.resolve(null)),
    };
    expect(await new RedisPersistenceProvider({ client: both, keyPrefix: "p:" }).tryLoad("i", "w")).toBeUndefined();
    expect(seen).toEqual([["call", "HMGET", 'p:s:["i","w"]', "data", "revision", "owner", "leaseMs", "updatedMs", "status"]]);
  });

  it("declares push only for a client with duplicate(), and subscribe() without one is a TypeError saying so", async () => {
    expect(new RedisPersistenceProvider({ client }).capabilities).toMatchObject({ mailbox: true, push: false });
    expect(new RedisPersistenceProvider({ client: { ...client, duplicate: () => client } }).capabilities.push).toBe(true);
    await expect(new RedisPersistenceProvider({ client }).subscribe(() => undefined)).rejects.toThrow(/subscribe: the client has no duplicate\(\).*capabilities\.push is false/);
  });

  it("subscribe(listener) with a listener that is not a function rejects with a TypeError naming it, making no connection", async () => {
    let duplicates = 0;
    const provider = new RedisPersistenceProvider({ client: { ...client, duplicate: () => (duplicates++, client) } });
    await expect(provider.subscribe("not a function" as unknown as () => void)).rejects.toThrow(new TypeError('RedisPersistenceProvider.subscribe(listener): listener must be a function, got "not a function"'));
    expect(duplicates).toBe(0);
  });

  it("drives a client that only has sendCommand() through sendCommand([...]) (node-redis)", async () => {
    const seen: unknown[] = [];
    const client = { sendCommand: (args: string[]) => (seen.push(args), Promise.resolve(null)) };
    expect(await new RedisPersistenceProvider({ client, keyPrefix: "p:" }).tryLoad("i", "w")).toBeUndefined();
    expect(seen).toEqual([["HMGET", 'p:s:["i","w"]', "data", "revision", "owner", "leaseMs", "updatedMs", "status"]]);
  });
});

describe("RedisPersistenceProvider abort", () => {
  it("list() stops between a batch's SSCAN and its fetch when the signal is aborted there", async () => {
    const controller = new AbortController();
    const sent: string[] = [];
    const scanning = {
      call: (command: string) => {
        sent.push(command);
        controller.abort(new Error("shutting down"));
        return Promise.resolve(["0", ['["i","w"]']]);
      },
    };
    await expect(new RedisPersistenceProvider({ client: scanning }).list({}, controller.signal)).rejects.toThrow("shutting down");
    expect(sent).toEqual(["SSCAN"]);
  });
});
