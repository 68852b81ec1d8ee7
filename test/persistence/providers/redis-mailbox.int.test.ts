import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { RESP_TYPES, createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SnapshotTooLargeError } from "../../../src/persistence/errors.js";
import type { ClaimRequest } from "../../../src/persistence/provider.js";
import type { DeliveredEvent } from "../../../src/persistence/mailbox.js";
import type { WorkflowExecutionSnapshot } from "../../../src/persistence/snapshot.js";
import { RedisPersistenceProvider } from "../../../src/persistence/providers/redis.js";
import { fullSnapshot, nextRevision, richValues } from "../../../src/persistence/testing/fixtures.js";
import { bundleForChild } from "../../support/bundle.js";
import { describeWithServer } from "../../support/describe-with-server.js";
import { runChild } from "../../support/processes.js";
import { taggedJsonCodec } from "../../support/custom-codec.js";
import { redisClients, type ConnectedRedisClient } from "../../support/redis-clients.js";
import { startRedis } from "../../support/redis-server.js";

const server = await startRedis();

const drivers = redisClients;

const prefix = (): string => `mailbox-${randomUUID()}:`;
const member = (s: { foundryExecutionId: string; workflowId: string }): string => JSON.stringify([s.foundryExecutionId, s.workflowId]);

// A waiting record as a suspended run saves it: no lease, no owner.
function waiting(overrides: Partial<WorkflowExecutionSnapshot>): WorkflowExecutionSnapshot {
  const snapshot: Record<string, unknown> = { ...fullSnapshot({ status: "waiting", ...overrides }) };
  delete snapshot.leaseExpiresAt;
  delete snapshot.owner;
  delete snapshot.error;
  return snapshot as unknown as WorkflowExecutionSnapshot;
}

function eventFor(snapshot: { foundryExecutionId: string; workflowId: string }, name: string, payload: unknown = {}, eventId: string = randomUUID()): DeliveredEvent {
  return { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId, name, eventId, payload, sentAt: new Date().toISOString() };
}

/** Subscribes, delivers the event a stored record waits for, and resolves with that record once the subscriber heard of it. */
async function deliveryHeard(provider: RedisPersistenceProvider): Promise<WorkflowExecutionSnapshot> {
  const snapshot = waiting({ waitingFor: "approved" });
  await provider.save(snapshot);
  let heard!: () => void;
  const heardOnce = new Promise<void>((resolve) => (heard = resolve));
  const stop = await provider.subscribe(() => heard());
  await provider.deliver(eventFor(snapshot, "approved"));
  await heardOnce;
  await stop();
  return snapshot;
}

function claimAt(now: number, workflowName: string, overrides: Partial<ClaimRequest> = {}): ClaimRequest {
  return { owner: "claimer", now: new Date(now).toISOString(), leaseExpiresAt: new Date(now + 30_000).toISOString(), limit: 100, maxAttempts: 3, filter: { workflowName }, ...overrides };
}

async function commandCalls(admin: Redis, command: string): Promise<number> {
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, "m").exec(await admin.info("commandstats"));
  return Number(match?.[1] ?? 0);
}

describeWithServer("RedisPersistenceProvider mailbox on a real redis-server", server, (started) => {
  const admin = new Redis(started.url);
  afterAll(async () => {
    await admin.quit();
    await started.stop();
  });

  describe.each(drivers)("with $name", (driver) => {
    let connected: ConnectedRedisClient;
    beforeAll(async () => {
      connected = await driver.connect(started.url);
    });
    afterAll(() => connected.close());

    it("stores one event per eventId across two provider objects on two connections: 20 concurrent deliveries, one true, the first payload kept", async () => {
      const keyPrefix = prefix();
      const other = await drivers.find((d) => d.name !== driver.name)!.connect(started.url);
      try {
        const providers = [new RedisPersistenceProvider({ client: connected.client, keyPrefix }), new RedisPersistenceProvider({ client: other.client, keyPrefix })];
        const keys = { foundryExecutionId: `i-${randomUUID()}`, workflowId: "w" };
        const stored = await Promise.all(Array.from({ length: 20 }, (_, i) => providers[i % 2]!.deliver(eventFor(keys, "approved", { from: i }, "mail-1"))));
        expect(stored.filter(Boolean)).toHaveLength(1);
        const received = await providers[1]!.receive(keys, "approved");
        expect(received).toHaveLength(1);
        expect(received[0]!.payload).toEqual({ from: stored.indexOf(true) });
      } finally {
        await other.close();
      }
    });

    it("receive returns the events of a name in the order they were first delivered, payloads decoded (Date, Map, BigInt)", async () => {
      const provider = new RedisPersistenceProvider({ client: connected.client, keyPrefix: prefix() });
      const keys = { foundryExecutionId: `i-${randomUUID()}`, workflowId: "w" };
      const ids = Array.from({ length: 12 }, (_, i) => `e-${i}`);
      for (const [i, id] of ids.entries()) await provider.deliver(eventFor(keys, i % 3 === 0 ? "other" : "approved", { i, ...richValues() }, id));
      expect(await provider.deliver(eventFor(keys, "approved", "late duplicate", "e-1"))).toBe(false);
      const received = await provider.receive(keys, "approved");
      expect(received.map((event) => event.eventId)).toEqual(ids.filter((_, i) => i % 3 !== 0));
      expect(received[0]!.payload).toEqual({ i: 1, ...richValues() });
      expect(await provider.receive(keys, "nothing")).toEqual([]);
    });

    it("a delivery marks a record waiting for its name due, which claim() then returns, and notifies subscribers of any process", async () => {
      const keyPrefix = prefix();
      const provider = new RedisPersistenceProvider({ client: connected.client, keyPrefix });
      const listening = new RedisPersistenceProvider({ client: admin, keyPrefix });
      let heard = 0;
      let resolveHeard: () => void = () => undefined;
      const heardOnce = new Promise<void>((resolve) => (resolveHeard = resolve));
      const stop = await listening.subscribe(() => {
        heard += 1;
        resolveHeard();
      });
      try {
        const workflowName = `W-${randomUUID()}`;
        const running = fullSnapshot({ workflowName, status: "running", leaseExpiresAt: new Date(Date.now() + 60_000).toISOString() });
        const other = waiting({ workflowName, waitingFor: "rejected" });
        const target = waiting({ workflowName, waitingFor: "approved" });
        for (const snapshot of [running, other, target]) await provider.save(snapshot);
        expect(await provider.claim(claimAt(Date.now(), workflowName))).toEqual([]);
        // Deliveries that mark nothing publish nothing: the one that marks is heard first, and alone.
        expect(await provider.deliver(eventFor(running, "approved"))).toBe(true);
        expect(await provider.deliver(eventFor(other, "approved"))).toBe(true);
        expect(await provider.deliver(eventFor(target, "approved"))).toBe(true);
        await heardOnce;
        expect(heard).toBe(1);
        expect((await provider.claim(claimAt(Date.now(), workflowName))).map((s) => s.foundryExecutionId)).toEqual([target.foundryExecutionId]);
      } finally {
        await stop();
      }
    });

    it("subscribe() holds one duplicated connection subscribed to <keyPrefix>due, and stop() closes it", async () => {
      const keyPrefix = prefix();
      const provider = new RedisPersistenceProvider({ client: connected.client, keyPrefix });
      expect(provider.capabilities.push).toBe(true);
      const clientsBefore = Number(/connected_clients:(\d+)/.exec(await admin.info("clients"))?.[1]);
      const stop = await provider.subscribe(() => undefined);
      expect(await admin.pubsub("NUMSUB", `${keyPrefix}due`)).toEqual([`${keyPrefix}due`, 1]);
      await stop();
      await stop(); // a second stop is harmless
      await expect.poll(async () => admin.pubsub("NUMSUB", `${keyPrefix}due`)).toEqual([`${keyPrefix}due`, 0]);
      await expect.poll(async () => Number(/connected_clients:(\d+)/.exec(await admin.info("clients"))?.[1])).toBe(clientsBefore);
    });

    it("rejects with the signal's reason when the signal aborts while subscribing, and leaves no subscriber", async () => {
      const keyPrefix = prefix();
      const clientsBefore = Number(/connected_clients:(\d+)/.exec(await admin.info("clients"))?.[1]);
      const controller = new AbortController();
      const subscribing = new RedisPersistenceProvider({ client: connected.client, keyPrefix }).subscribe(() => undefined, controller.signal);
      const reason = new Error("shutting down");
      controller.abort(reason);
      await expect(subscribing).rejects.toBe(reason);
      expect(await admin.pubsub("NUMSUB", `${keyPrefix}due`)).toEqual([`${keyPrefix}due`, 0]);
      await expect.poll(async () => Number(/connected_clients:(\d+)/.exec(await admin.info("clients"))?.[1])).toBe(clientsBefore);
    });

    it("an aborted signal stops a subscription", async () => {
      const keyPrefix = prefix();
      const controller = new AbortController();
      await new RedisPersistenceProvider({ client: connected.client, keyPrefix }).subscribe(() => undefined, controller.signal);
      expect(await admin.pubsub("NUMSUB", `${keyPrefix}due`)).toEqual([`${keyPrefix}due`, 1]);
      controller.abort();
      await expect.poll(async () => admin.pubsub("NUMSUB", `${keyPrefix}due`)).toEqual([`${keyPrefix}due`, 0]);
    });
  });

  describe("RedisPersistenceProvider mailbox layout", () => {
    it("two processes (ioredis and node-redis) delivering one eventId to each of 300 instances at once store each event once, with the payload of the delivery that said true", async () => {
      const keyPrefix = prefix();
      const child = bundleForChild(fileURLToPath(new URL("./redis-deliver-child.ts", import.meta.url)));
      const count = 300;
      const runs = ["ioredis", "node-redis"].map((driver) => runChild(child, { REDIS_URL: started.url, KEY_PREFIX: keyPrefix, DRIVER: driver, COUNT: String(count), TAG: driver }));
      // Both are connected and waiting: let them go together.
      for (let i = 0; i < 2; i++) await admin.blpop(`${keyPrefix}ready`, 30);
      await admin.rpush(`${keyPrefix}go`, "go", "go");
      const [byIoredis, byNodeRedis] = (await Promise.all(runs)).map((out) => JSON.parse(out) as boolean[]);
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix });
      for (let i = 0; i < count; i++) {
        expect([byIoredis![i], byNodeRedis![i]].filter(Boolean), `instance race-${i}`).toHaveLength(1);
        const received = await provider.receive({ foundryExecutionId: `race-${i}`, workflowId: "w" }, "approved");
        expect(received.map((event) => event.payload)).toEqual([{ tag: byIoredis![i] === true ? "ioredis" : "node-redis" }]);
      }
    });

    it("delete removes the instance's events with its record, in the same script", async () => {
      const keyPrefix = prefix();
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix });
      const snapshot = waiting({ waitingFor: "approved" });
      await provider.save(snapshot);
      await provider.deliver(eventFor(snapshot, "approved"));
      expect(await admin.exists(`${keyPrefix}e:${member(snapshot)}`)).toBe(1);
      await provider.delete(snapshot.foundryExecutionId, snapshot.workflowId);
      expect(await admin.exists(`${keyPrefix}e:${member(snapshot)}`, `${keyPrefix}s:${member(snapshot)}`)).toBe(0);
      expect(await provider.receive(snapshot, "approved")).toEqual([]);
    });

    it("completedTtlSeconds expires the instance's events with its completed record, and a later save of another status keeps both", async () => {
      const keyPrefix = prefix();
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix, completedTtlSeconds: 60 });
      const snapshot = waiting({ waitingFor: "approved" });
      const [record, events] = [`${keyPrefix}s:${member(snapshot)}`, `${keyPrefix}e:${member(snapshot)}`];
      await provider.deliver(eventFor(snapshot, "approved"));
      await provider.save(snapshot);
      const completed = nextRevision(snapshot, { status: "completed" });
      await provider.save(completed);
      for (const key of [record, events]) expect(await admin.ttl(key)).toBeGreaterThan(55);
      await provider.save(nextRevision(completed, { status: "running" }));
      for (const key of [record, events]) expect(await admin.pttl(key)).toBe(-1);
    });

    it("scores a waiting record by its wake time, leaves one waiting only for an event out of the claimable set until a delivery, and a save clears the mark", async () => {
      const keyPrefix = prefix();
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix });
      const wakeAt = new Date(Date.now() + 3_600_000).toISOString();
      const timer = waiting({ wakeAt });
      const approval = waiting({ waitingFor: "approved" });
      for (const snapshot of [timer, approval]) await provider.save(snapshot);
      expect(await admin.zscore(`${keyPrefix}claimable`, member(timer))).toBe(String(Date.parse(wakeAt)));
      expect(await admin.zscore(`${keyPrefix}claimable`, member(approval))).toBeNull();
      const event = eventFor(approval, "approved");
      await provider.deliver(event);
      expect(await admin.zscore(`${keyPrefix}claimable`, member(approval))).toBe("-inf");
      expect(await admin.hget(`${keyPrefix}s:${member(approval)}`, "dueMark")).toBe("1");
      // Saved waiting again, its wait having consumed the event: the mark is gone, and so is the record from the set.
      const again = nextRevision(approval, { consumedEvents: [event.eventId] });
      await provider.save(again);
      expect(await admin.hget(`${keyPrefix}s:${member(approval)}`, "dueMark")).toBe("");
      expect(await provider.claim(claimAt(Date.now(), approval.workflowName))).toEqual([]);
      expect(await admin.zscore(`${keyPrefix}claimable`, member(approval))).toBeNull();
      // Running again (a run that took its claim back): claimable once its lease ends.
      await provider.save(nextRevision(again, { status: "running", leaseExpiresAt: new Date(Date.now() - 1).toISOString() }));
      expect(await provider.claim(claimAt(Date.now(), approval.workflowName))).toHaveLength(1);
    });

    it("a waiting save marks itself due when the mailbox holds an event it has not consumed: created or updated, alone or in a group", async () => {
      const keyPrefix = prefix();
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix });
      const odd = "appro\ud800ved \"\n,";
      const records = [waiting({ waitingFor: odd }), waiting({ waitingFor: odd }), waiting({ waitingFor: odd }), waiting({ waitingFor: odd })];
      // Each holds an event it consumed; all but the last one it did not, and an event of another name.
      const consumed = records.map((record) => eventFor(record, odd));
      for (const [i, record] of records.entries()) {
        await provider.deliver(consumed[i]!);
        await provider.deliver(eventFor(record, `${odd}x`));
        if (i < 3) await provider.deliver(eventFor(record, odd));
      }
      const fields = async (record: WorkflowExecutionSnapshot) => [await admin.hget(`${keyPrefix}s:${member(record)}`, "dueMark"), await admin.zscore(`${keyPrefix}claimable`, member(record))];
      const withConsumed = (record: WorkflowExecutionSnapshot, i: number) => ({ ...record, consumedEvents: [consumed[i]!.eventId] });
      // Created: the first alone, the others together (saves that arrive while one is in flight go as one script).
      await provider.save(withConsumed(records[0]!, 0));
      await Promise.all(records.slice(1).map((record, i) => provider.save(withConsumed(record, i + 1))));
      expect(await Promise.all(records.map(fields))).toEqual([["1", "-inf"], ["1", "-inf"], ["1", "-inf"], ["", null]]);
      // Updated: the same, the first alone.
      await provider.save(nextRevision(withConsumed(records[0]!, 0)));
      await Promise.all(records.slice(1).map((record, i) => provider.save(nextRevision(withConsumed(record, i + 1)))));
      expect(await Promise.all(records.map(fields))).toEqual([["1", "-inf"], ["1", "-inf"], ["1", "-inf"], ["", null]]);
      expect((await provider.claim(claimAt(Date.now(), records[0]!.workflowName))).map((claimed) => claimed.foundryExecutionId).sort()).toEqual(records.slice(0, 3).map((record) => record.foundryExecutionId).sort());
    });

    it("a waiting record is due at its wake time by the request's now, and a claim keeps its status waiting", async () => {
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix: prefix() });
      const wake = Date.now() + 3_600_000;
      const timer = waiting({ workflowName: `W-${randomUUID()}`, wakeAt: new Date(wake).toISOString(), attempts: 7 });
      await provider.save(timer);
      expect(await provider.claim(claimAt(wake - 1, timer.workflowName))).toEqual([]);
      const [claimed] = await provider.claim(claimAt(wake, timer.workflowName, { maxAttempts: 1 }));
      expect(claimed).toMatchObject({ status: "waiting", revision: 2, owner: "claimer", attempts: 8 });
    });

    it("a not-due waiting record put in the claim window is scored again, or dropped, and never claimed nor looped over", async () => {
      const keyPrefix = prefix();
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix });
      const workflowName = `W-${randomUUID()}`;
      const wake = Date.now() + 3_600_000;
      const timer = waiting({ workflowName, wakeAt: new Date(wake).toISOString() });
      const approval = waiting({ workflowName, waitingFor: "approved" });
      for (const snapshot of [timer, approval]) await provider.save(snapshot);
      await admin.zadd(`${keyPrefix}claimable`, 0, member(timer), 0, member(approval));
      // A lease that ends before the claim's own `now` keeps a claimed record in the window; the walk must still end.
      expect(await provider.claim(claimAt(Date.now() + 60_000, workflowName, { leaseExpiresAt: new Date(Date.now() + 30_000).toISOString() }))).toEqual([]);
      expect(await admin.zscore(`${keyPrefix}claimable`, member(timer))).toBe(String(wake));
      expect(await admin.zscore(`${keyPrefix}claimable`, member(approval))).toBeNull();
    });

    it("10,000 not-yet-due timers are outside a claim pass: it reads no record", async () => {
      const keyPrefix = prefix();
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix });
      const workflowName = `W-${randomUUID()}`;
      const now = Date.now();
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(Array.from({ length: 1_000 }, (_, i) => provider.save(waiting({ workflowName, wakeAt: new Date(now + 60_000 + batch * 1_000 + i).toISOString() }))));
      }
      expect(await admin.zcard(`${keyPrefix}claimable`)).toBe(10_000);
      const before = await commandCalls(admin, "hmget");
      expect(await provider.claim(claimAt(now, workflowName))).toEqual([]);
      expect(await provider.claim(claimAt(now, workflowName, { filter: {} }))).toEqual([]);
      expect(await commandCalls(admin, "hmget")).toBe(before);
    });

    it("a cancelled record leaves the claimable set, and delivering to it marks nothing", async () => {
      const keyPrefix = prefix();
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix });
      const snapshot = waiting({ wakeAt: new Date(Date.now() - 1).toISOString(), waitingFor: "approved" });
      await provider.save(snapshot);
      await provider.save(nextRevision(snapshot, { status: "cancelled" }));
      expect(await admin.zscore(`${keyPrefix}claimable`, member(snapshot))).toBeNull();
      await provider.deliver(eventFor(snapshot, "approved"));
      expect(await provider.claim(claimAt(Date.now(), snapshot.workflowName, { filter: { workflowName: snapshot.workflowName, status: ["cancelled", "waiting"] } }))).toEqual([]);
    });

    it("stores payloads as the custom codec's text and decodes them through it", async () => {
      const keyPrefix = prefix();
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix, codec: taggedJsonCodec });
      const keys = { foundryExecutionId: `i-${randomUUID()}`, workflowId: "w" };
      await provider.deliver(eventFor(keys, "approved", { by: "ann" }, "mail-1"));
      const [value] = await admin.hvals(`${keyPrefix}e:${member(keys)}`);
      expect(value).toMatch(/\ncustom:\{/);
      expect((await provider.receive(keys, "approved")).map((event) => event.payload)).toEqual([{ by: "ann" }]);
    });

    it("refuses a payload over the default codec's 4 MiB snapshot limit with SnapshotTooLargeError, storing nothing", async () => {
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix: prefix() });
      const keys = { foundryExecutionId: `i-${randomUUID()}`, workflowId: "w" };
      await expect(provider.deliver(eventFor(keys, "approved", { blob: "x".repeat(4 * 1024 * 1024) }))).rejects.toBeInstanceOf(SnapshotTooLargeError);
      expect(await provider.receive(keys, "approved")).toEqual([]);
    });

    it("keeps names and eventIds that differ only in lone surrogates apart, and takes 10,000-character ones", async () => {
      const provider = new RedisPersistenceProvider({ client: admin, keyPrefix: prefix() });
      const keys = { foundryExecutionId: "\ud800|..", workflowId: "x".repeat(10_000) };
      const snapshot = waiting({ ...keys, waitingFor: "\udc00" });
      await provider.save(snapshot);
      expect(await provider.deliver(eventFor(keys, "\udc01", 1, "\ud801"))).toBe(true);
      expect(await provider.deliver(eventFor(keys, "\udc01", 2, "\ud802"))).toBe(true);
      expect(await provider.deliver(eventFor(keys, "y".repeat(10_000), 3, "z".repeat(10_000)))).toBe(true);
      expect(await provider.claim(claimAt(Date.now(), snapshot.workflowName))).toEqual([]);
      expect((await provider.receive(keys, "\udc01")).map((event) => event.payload)).toEqual([1, 2]);
      expect((await provider.receive(keys, "y".repeat(10_000))).map((event) => event.eventId)).toEqual(["z".repeat(10_000)]);
    });

    it("works with a node-redis client whose typeMapping returns Buffers", async () => {
      const client = await createClient({ url: started.url }).connect();
      try {
        const provider = new RedisPersistenceProvider({ client: client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }), keyPrefix: prefix() });
        const keys = { foundryExecutionId: `i-${randomUUID()}`, workflowId: "w" };
        expect(await provider.deliver(eventFor(keys, "approved", { text: "é✓ 漢字 🚀" }, "é"))).toBe(true);
        expect(await provider.receive(keys, "approved")).toMatchObject([{ eventId: "é", payload: { text: "é✓ 漢字 🚀" } }]);
      } finally {
        await client.close();
      }
    });

    it("an ioredis client with its own keyPrefix publishes and subscribes on the same channel, and claim() then takes the record", async () => {
      const prefixed = new Redis(started.url, { keyPrefix: prefix() });
      try {
        const provider = new RedisPersistenceProvider({ client: prefixed, keyPrefix: prefix() });
        const snapshot = await deliveryHeard(provider);
        expect((await provider.claim(claimAt(Date.now(), snapshot.workflowName))).map((s) => s.foundryExecutionId)).toEqual([snapshot.foundryExecutionId]);
      } finally {
        await prefixed.quit();
      }
    });

    it("subscribes through an ioredis client made to fail fast (enableOfflineQueue: false), as its errors advise", async () => {
      const client = new Redis(started.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
      try {
        await new Promise((resolve) => client.once("ready", resolve));
        await deliveryHeard(new RedisPersistenceProvider({ client, keyPrefix: prefix() }));
      } finally {
        await client.quit();
      }
    });

    it("a node-redis subscriber made from a fail-fast client (reconnectStrategy: false) comes back after its connection is dropped", async () => {
      const client = await createClient({ url: started.url, socket: { reconnectStrategy: false } }).connect();
      try {
        const keyPrefix = prefix();
        const provider = new RedisPersistenceProvider({ client, keyPrefix });
        let heard = 0;
        const stop = await provider.subscribe(() => void heard++);
        const deliverDue = async (): Promise<number> => {
          const snapshot = waiting({ waitingFor: "approved" });
          await provider.save(snapshot);
          await provider.deliver(eventFor(snapshot, "approved"));
          return heard;
        };
        await expect.poll(deliverDue).toBeGreaterThan(0);
        await admin.call("CLIENT", "KILL", "TYPE", "pubsub");
        // Subscribed again: the server counts a subscriber on the channel once more.
        await expect.poll(async () => admin.pubsub("NUMSUB", `${keyPrefix}due`), { timeout: 15_000, interval: 100 }).toEqual([`${keyPrefix}due`, 1]);
        const before = heard;
        // Deliveries go on until one is heard: a subscriber that never came back hears none.
        await expect.poll(deliverDue, { timeout: 15_000, interval: 200 }).toBeGreaterThan(before);
        await stop();
      } finally {
        await client.close();
      }
    });

    // Nothing is delivered while the subscriber is away or after: the listener's call is the
    // resubscription's own, and a client whose subscriber came back silently never makes it.
    it.each(["ioredis", "node-redis"] as const)("a subscriber through %s whose connection is dropped tells its listener to look once it is subscribed again", async (driver) => {
      const io = driver === "ioredis" ? new Redis(started.url) : undefined;
      const node = io === undefined ? await createClient({ url: started.url }).connect() : undefined;
      const client = io ?? node!;
      try {
        const keyPrefix = prefix();
        let heard = 0;
        const stop = await new RedisPersistenceProvider({ client, keyPrefix }).subscribe(() => void heard++);
        await admin.call("CLIENT", "KILL", "TYPE", "pubsub");
        await expect.poll(() => heard, { timeout: 15_000, interval: 50 }).toBe(1);
        expect(await admin.pubsub("NUMSUB", `${keyPrefix}due`)).toEqual([`${keyPrefix}due`, 1]);
        await stop();
      } finally {
        await (io?.quit() ?? node?.close());
      }
    });

    it("stop() settles within commandTimeoutMs while the server does not answer, and drops the connection", async () => {
      const pid = Number(/process_id:(\d+)/.exec(await admin.info("server"))?.[1]);
      expect(pid).toBeGreaterThan(0);
      const client = new Redis(started.url);
      const provider = new RedisPersistenceProvider({ client, keyPrefix: prefix(), commandTimeoutMs: 300 });
      const stop = await provider.subscribe(() => undefined);
      process.kill(pid, "SIGSTOP");
      try {
        // A stop() that waits for the server's answer to QUIT never settles while it is stopped.
        const outcome = await Promise.race([stop().then(() => "stopped"), new Promise((resolve) => setTimeout(resolve, 10_000, "still waiting"))]);
        expect(outcome).toBe("stopped");
      } finally {
        process.kill(pid, "SIGCONT");
        client.disconnect();
      }
    });
  });
});
