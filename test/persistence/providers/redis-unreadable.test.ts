import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultSnapshotCodec, SnapshotCorruptedError, type SnapshotCodec, type WorkflowExecutionSnapshot } from "../../../src/persistence/index.js";
import { RedisPersistenceProvider } from "../../../src/persistence/providers/redis.js";
import { fullSnapshot } from "../../../src/persistence/testing/fixtures.js";
import { describeWithServer } from "../../support/describe-with-server.js";
import { redisClients } from "../../support/redis-clients.js";
import { startRedis } from "../../support/redis-server.js";
import { describeRejectedClaim, describeUnreadableLeftAlone } from "./claim-rejected-cases.js";

// What the Redis provider's list() makes of an index and records that no save wrote: each such
// entry goes through the unreadable path (onUnreadable, else SnapshotCorruptedError) and stays
// where it is, while every readable record is still listed.

const server = await startRedis();

const drivers = redisClients;

const idsOf = (snapshots: readonly WorkflowExecutionSnapshot[]): string[] => snapshots.map((snapshot) => snapshot.foundryExecutionId).sort();
const recordOf = (prefix: string, s: { foundryExecutionId: string; workflowId: string }): string => `${prefix}s:${JSON.stringify([s.foundryExecutionId, s.workflowId])}`;

describeWithServer("RedisPersistenceProvider and entries no save wrote", server, (started) => {
  const admin = new Redis(started.url);
  afterAll(async () => {
    await admin.quit();
    await started.stop();
  });

  describe.each(drivers)("with $name", (driver) => {
    let connected: Awaited<ReturnType<(typeof driver)["connect"]>>;
    beforeAll(async () => {
      connected = await driver.connect(started.url);
    });
    afterAll(() => connected.close());

    describeRejectedClaim((codec) => new RedisPersistenceProvider({ client: connected.client, keyPrefix: `test-${randomUUID()}:`, codec }));
    describeUnreadableLeftAlone((codec) => new RedisPersistenceProvider({ client: connected.client, keyPrefix: `test-${randomUUID()}:`, codec }));

    /** A provider on a fresh prefix holding two readable snapshots. */
    async function seeded() {
      const keyPrefix = `test-${randomUUID()}:`;
      const provider = new RedisPersistenceProvider({ client: connected.client, keyPrefix });
      const readable = [fullSnapshot({ status: "running" }), fullSnapshot({ status: "failed" })];
      for (const snapshot of readable) await provider.save(snapshot);
      return { keyPrefix, provider, readable };
    }

    it("hands every index member that names no key pair to onUnreadable, lists every record, and leaves the members in place", async () => {
      const { keyPrefix, provider, readable } = await seeded();
      const members = ["not json", '["only one"]', "[1,2]", '[ "spaced", "pair" ]', "not json either"];
      await admin.sadd(`${keyPrefix}index`, ...members);
      // One of them even has a record under its name, as if saved by a store with another key format.
      await admin.hset(`${keyPrefix}s:not json`, { data: "wf1:junk", status: "running", workflowId: "w", workflowName: "W" });

      const unreadable: SnapshotCorruptedError[] = [];
      expect(idsOf(await provider.list({}, undefined, { onUnreadable: (error) => unreadable.push(error) }))).toEqual(idsOf(readable));
      expect(unreadable.map((error) => error.keys)).toEqual(members.map(() => ({ foundryExecutionId: "*", workflowId: "*" })));
      expect(unreadable.map((error) => members.find((member) => error.message.includes(JSON.stringify(member))))).toEqual(expect.arrayContaining(members));
      await expect(provider.list()).rejects.toBeInstanceOf(SnapshotCorruptedError);
      expect((await admin.smembers(`${keyPrefix}index`)).length).toBe(readable.length + members.length);
    });

    it("hands a record that is not a hash, or a hash without data, to onUnreadable naming its keys whatever the filter, and leaves it in place", async () => {
      const { keyPrefix, provider, readable } = await seeded();
      const [notHash, noData] = [fullSnapshot(), fullSnapshot()];
      for (const snapshot of [notHash, noData]) await provider.save(snapshot);
      await admin.del(recordOf(keyPrefix, notHash), recordOf(keyPrefix, noData));
      await admin.set(recordOf(keyPrefix, notHash), "junk");
      await admin.hset(recordOf(keyPrefix, noData), { status: "running", workflowId: noData.workflowId });

      const unreadable: SnapshotCorruptedError[] = [];
      const listed = await provider.list({ status: "failed" }, undefined, { onUnreadable: (error) => unreadable.push(error) });
      expect(idsOf(listed)).toEqual([readable[1]?.foundryExecutionId]);
      expect(unreadable.map((error) => error.keys.foundryExecutionId).sort()).toEqual(idsOf([notHash, noData]));
      expect(unreadable.every((error) => error instanceof SnapshotCorruptedError && error.message.includes("not a hash with a data field"))).toBe(true);
      await expect(provider.list()).rejects.toBeInstanceOf(SnapshotCorruptedError);
      expect(await admin.exists(recordOf(keyPrefix, notHash), recordOf(keyPrefix, noData))).toBe(2);
      expect((await admin.smembers(`${keyPrefix}index`)).length).toBe(4);
    });

    it("claim() hands a record no save wrote to onUnreadable naming its keys, claims every other one, and takes the junk out of its set", async () => {
      const keyPrefix = `test-${randomUUID()}:`;
      const provider = new RedisPersistenceProvider({ client: connected.client, keyPrefix });
      const workflowName = `Junk-${randomUUID()}`;
      const unleased = (): WorkflowExecutionSnapshot => {
        const snapshot: Record<string, unknown> = { ...fullSnapshot({ status: "running", workflowName }) };
        delete snapshot.leaseExpiresAt;
        return snapshot as unknown as WorkflowExecutionSnapshot;
      };
      const [good, notHash, badRevision, noStatus] = [unleased(), unleased(), unleased(), unleased()];
      for (const snapshot of [notHash, badRevision, noStatus, good]) await provider.save(snapshot);
      await admin.del(recordOf(keyPrefix, notHash));
      await admin.set(recordOf(keyPrefix, notHash), "junk");
      await admin.hset(recordOf(keyPrefix, badRevision), "revision", "not a number");
      await admin.hdel(recordOf(keyPrefix, noStatus), "status");
      const now = Date.now();
      const request = { owner: "o", now: new Date(now).toISOString(), leaseExpiresAt: new Date(now + 30_000).toISOString(), limit: 10, maxAttempts: 3 };

      const unreadable: SnapshotCorruptedError[] = [];
      expect(idsOf(await provider.claim(request, undefined, { onUnreadable: (error) => unreadable.push(error) }))).toEqual([good.foundryExecutionId]);
      expect(unreadable.map((error) => error.keys.foundryExecutionId).sort()).toEqual(idsOf([notHash, badRevision, noStatus]));
      expect(unreadable.every((error) => error instanceof SnapshotCorruptedError)).toBe(true);
      // Reported once: the next claims neither see nor claim them; tryLoad and list() still report them.
      expect(await admin.zcard(`${keyPrefix}claimable`)).toBe(1);
      expect(await provider.claim({ ...request, now: new Date(now + 60_000).toISOString(), leaseExpiresAt: new Date(now + 90_000).toISOString() })).toHaveLength(1);
      await expect(provider.tryLoad(badRevision.foundryExecutionId, badRevision.workflowId)).rejects.toMatchObject({ code: "SNAPSHOT_CORRUPTED" });
    });

    it("claim() with onUnreadable passes over records it cannot read that stand first in the set: each is reported once a call, keeps its fields and score, and the page is filled with others", async () => {
      const keyPrefix = `test-${randomUUID()}:`;
      const broken = new Set<string>();
      const codec: SnapshotCodec = {
        encode: (snapshot) => defaultSnapshotCodec.encode(snapshot),
        decode: (text, keys) => {
          if (broken.has(keys.foundryExecutionId)) throw new SyntaxError("bad text");
          return defaultSnapshotCodec.decode(text, keys);
        },
      };
      const provider = new RedisPersistenceProvider({ client: connected.client, keyPrefix, codec });
      // Scored by their lease's end: both unreadable records stand before the readable ones (00:00:30).
      const unreadable = ["2026-01-01T00:00:10.000Z", "2026-01-01T00:00:20.000Z"].map((leaseExpiresAt) => fullSnapshot({ status: "running", leaseExpiresAt }));
      const readable = [fullSnapshot({ status: "running" }), fullSnapshot({ status: "failed" })];
      for (const snapshot of [...unreadable, ...readable]) await provider.save(snapshot);
      for (const snapshot of unreadable) broken.add(snapshot.foundryExecutionId);
      const stored = () =>
        Promise.all(unreadable.map(async (s) => [await admin.hgetall(recordOf(keyPrefix, s)), await admin.zscore(`${keyPrefix}claimable`, JSON.stringify([s.foundryExecutionId, s.workflowId]))]));
      const before = await stored();
      const request = { owner: "claimer", now: new Date().toISOString(), leaseExpiresAt: new Date(Date.now() + 60_000).toISOString(), limit: 1, maxAttempts: 5 };
      const claimOnce = async () => {
        const reported: string[] = [];
        const claimed = await provider.claim(request, undefined, { onUnreadable: (error) => reported.push(error.keys.foundryExecutionId) });
        return { claimed: idsOf(claimed), reported: reported.sort() };
      };

      const first = await claimOnce();
      const second = await claimOnce();

      expect([...first.claimed, ...second.claimed].sort()).toEqual(idsOf(readable));
      expect([first.reported, second.reported]).toEqual([idsOf(unreadable), idsOf(unreadable)]);
      expect(await stored()).toEqual(before);
    });

    it("a save refused by a key of the wrong type under the provider's prefix writes nothing", async () => {
      const keyPrefix = `test-${randomUUID()}:`;
      const provider = new RedisPersistenceProvider({ client: connected.client, keyPrefix });
      await admin.set(`${keyPrefix}claimable`, "junk");
      const snapshot = fullSnapshot({ status: "running" });
      await expect(provider.save(snapshot)).rejects.toMatchObject({ code: "PERSISTENCE", call: "save" });
      expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toBeUndefined();
      // Once the junk is gone, the same save goes through: nothing half-written refuses it.
      await admin.del(`${keyPrefix}claimable`);
      await provider.save(snapshot);
      expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
    });

    it.each([
      ["a revision and a status", { revision: "3", status: "running" }],
      ["only a status", { status: "running" }],
    ])("tryLoad of a hash with %s but no data field rejects with SnapshotCorruptedError naming its keys, as list() reports it", async (_what, fields) => {
      const keyPrefix = `test-${randomUUID()}:`;
      const provider = new RedisPersistenceProvider({ client: connected.client, keyPrefix });
      const keys = { foundryExecutionId: `i-${randomUUID()}`, workflowId: "w" };
      await admin.hset(recordOf(keyPrefix, keys), fields);
      await admin.sadd(`${keyPrefix}index`, JSON.stringify([keys.foundryExecutionId, keys.workflowId]));

      const error: unknown = await provider.tryLoad(keys.foundryExecutionId, keys.workflowId).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(SnapshotCorruptedError);
      expect(error).toMatchObject({ code: "SNAPSHOT_CORRUPTED", keys });
      expect((error as Error).message).toContain("no data field");
      await expect(provider.list()).rejects.toMatchObject({ code: "SNAPSHOT_CORRUPTED", keys });
    });

    it("a record whose revision field is not a number is unreadable to tryLoad and list, as to claim(), not a revision every save conflicts with", async () => {
      const { keyPrefix, provider, readable } = await seeded();
      const snapshot = fullSnapshot({ status: "running" });
      await provider.save(snapshot);
      await admin.hset(recordOf(keyPrefix, snapshot), "revision", "abc");
      const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
      await expect(provider.tryLoad(keys.foundryExecutionId, keys.workflowId)).rejects.toMatchObject({ code: "SNAPSHOT_CORRUPTED", keys, message: expect.stringMatching(/its revision field is "abc", not a number/) as unknown });
      const unreadable: SnapshotCorruptedError[] = [];
      expect(idsOf(await provider.list({}, undefined, { onUnreadable: (error) => void unreadable.push(error) }))).toEqual(idsOf(readable));
      expect(unreadable.map((error) => error.keys)).toEqual([keys]);
    });

    it("tryLoad of a record that is not a hash rejects with SnapshotCorruptedError naming its keys, and delete removes it", async () => {
      const { keyPrefix, provider } = await seeded();
      const snapshot = fullSnapshot();
      await provider.save(snapshot);
      await admin.del(recordOf(keyPrefix, snapshot));
      await admin.set(recordOf(keyPrefix, snapshot), "junk");
      const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };

      const error: unknown = await provider.tryLoad(keys.foundryExecutionId, keys.workflowId).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(SnapshotCorruptedError);
      expect(error).toMatchObject({ code: "SNAPSHOT_CORRUPTED", keys });
      await provider.delete(keys.foundryExecutionId, keys.workflowId);
      expect(await provider.tryLoad(keys.foundryExecutionId, keys.workflowId)).toBeUndefined();
    });
  });
});
