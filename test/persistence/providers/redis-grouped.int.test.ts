import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PersistenceError, SnapshotConflictError, type WorkflowExecutionSnapshot } from "../../../src/persistence/index.js";
import { RedisPersistenceProvider, type IoRedisLikeClient } from "../../../src/persistence/providers/redis.js";
import { fullSnapshot, nextRevision } from "../../../src/persistence/testing/fixtures.js";
import { describeWithServer } from "../../support/describe-with-server.js";
import { startRedis } from "../../support/redis-server.js";

// Group commit on Redis: saves and deletes that arrive while one is in flight go as one script,
// each with its own compare-and-set, on a real redis-server through both drivers.

const server = await startRedis();

/** One command as the provider sent it: its name, and for a script the number of keys. */
interface Sent {
  readonly command: string;
  readonly keys: number;
}

type Send = (args: string[]) => Promise<unknown>;

const drivers: { name: string; connect(url: string): Promise<{ send: Send; close(): Promise<void> }> }[] = [
  {
    name: "ioredis",
    async connect(url) {
      const client = new Redis(url);
      await client.ping();
      return { send: ([command, ...args]) => client.call(command as string, ...args), close: async () => void (await client.quit()) };
    },
  },
  {
    name: "node-redis",
    async connect(url) {
      const client = await createClient({ url }).connect();
      return { send: (args) => client.sendCommand(args), close: () => client.close() };
    },
  },
];

const isGroup = (sent: Sent): boolean => sent.command.startsWith("EVAL") && sent.keys > 5;

/** Saves `first` alone, then `rest` while it is in flight: they go together once it settles. */
const saveTogether = (provider: RedisPersistenceProvider, first: WorkflowExecutionSnapshot, rest: readonly WorkflowExecutionSnapshot[]) =>
  Promise.allSettled([first, ...rest].map((snapshot) => provider.save(snapshot)));

describeWithServer("RedisPersistenceProvider group commit on a real redis-server", server, (started) => {
  const admin = new Redis(started.url);
  afterAll(async () => {
    await admin.quit();
    await started.stop();
  });

  describe.each(drivers)("through $name", (driver) => {
    let connected: { send: Send; close(): Promise<void> };
    const send: Send = (args) => connected.send(args);
    beforeAll(async () => (connected = await driver.connect(started.url)));
    afterAll(() => connected.close());

    /** A provider on a fresh prefix whose commands are recorded; `hold(sent)` may keep one unanswered until it settles. */
    async function setUp(hold?: (sent: Sent) => Promise<void> | undefined, commandTimeoutMs?: number) {
      const sent: Sent[] = [];
      const client: IoRedisLikeClient = {
        call: async (command, ...args) => {
          const one = { command, keys: command.startsWith("EVAL") ? Number(args[1]) : 0 };
          sent.push(one);
          await hold?.(one);
          return send([command, ...args]);
        },
      };
      const keyPrefix = `grouped-${randomUUID()}:`;
      const provider = new RedisPersistenceProvider({ client, keyPrefix, ...(commandTimeoutMs === undefined ? {} : { commandTimeoutMs }) });
      // Each script's SHA-1 known and loaded: what follows is what a warm provider sends.
      const warm = fullSnapshot();
      await saveTogether(provider, warm, [fullSnapshot(), fullSnapshot()]);
      await provider.save(nextRevision(warm));
      await provider.delete(warm.foundryExecutionId, warm.workflowId);
      sent.length = 0;
      return { provider, sent, keyPrefix };
    }

    it("saves that arrive while one is in flight go as one command, each with its own compare-and-set", async () => {
      const { provider, sent } = await setUp();
      const [first, ...rest] = Array.from({ length: 4 }, () => fullSnapshot());
      const stale = nextRevision(nextRevision(fullSnapshot()));
      const created = await saveTogether(provider, first!, [...rest, stale]);
      expect(created.map((outcome) => outcome.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "fulfilled", "rejected"]);
      expect((created[4] as PromiseRejectedResult).reason).toBeInstanceOf(SnapshotConflictError);
      expect((created[4] as PromiseRejectedResult).reason.message).toContain("revision 3 was refused: the stored revision is 0");
      expect(sent.map(isGroup)).toEqual([false, true]);

      // Updates too, with one refused in the middle: it names revision 1 again, which is stored.
      sent.length = 0;
      const [a, b, c, d] = [first!, ...rest].map((snapshot) => nextRevision(snapshot));
      const updated = await saveTogether(provider, a!, [b!, { ...c!, revision: 1 }, d!]);
      expect(updated.map((outcome) => outcome.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
      expect((updated[2] as PromiseRejectedResult).reason).toMatchObject({ code: "SNAPSHOT_CONFLICT", keys: { foundryExecutionId: c!.foundryExecutionId } });
      expect((updated[2] as PromiseRejectedResult).reason.message).toContain("the stored revision is 1");
      expect(sent.filter(isGroup)).toHaveLength(1);
      for (const snapshot of [a!, b!, d!]) expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
      expect(await provider.tryLoad(c!.foundryExecutionId, c!.workflowId)).toEqual(rest[1]);
      expect(await provider.tryLoad(stale.foundryExecutionId, stale.workflowId)).toBeUndefined();
    });

    it("deletes go in a group with saves, and each leaves nothing behind: record, events, index and sets", async () => {
      const { provider, sent, keyPrefix } = await setUp();
      const snapshots = Array.from({ length: 4 }, () => fullSnapshot());
      for (const snapshot of snapshots) await provider.save(snapshot);
      sent.length = 0;
      const [first, ...rest] = snapshots;
      const busy = fullSnapshot();
      await Promise.all([provider.save(busy), ...[first!, ...rest].map((snapshot) => provider.delete(snapshot.foundryExecutionId, snapshot.workflowId))]);
      expect(sent.map(isGroup)).toEqual([false, true]);
      const members = snapshots.map((snapshot) => JSON.stringify([snapshot.foundryExecutionId, snapshot.workflowId]));
      expect(await admin.exists(...members.flatMap((member) => [`${keyPrefix}s:${member}`, `${keyPrefix}e:${member}`]))).toBe(0);
      const [indexed, claimable] = [await admin.smembers(`${keyPrefix}index`), await admin.zrange(`${keyPrefix}claimable`, "0", "-1")];
      for (const member of members) expect([indexed.includes(member), claimable.includes(member)]).toEqual([false, false]);
      const busyMember = JSON.stringify([busy.foundryExecutionId, busy.workflowId]);
      expect([indexed.includes(busyMember), claimable.includes(busyMember)]).toEqual([true, true]);
    });

    it("a record of the wrong type fails its own save only, and is left as it was", async () => {
      const { provider, keyPrefix } = await setUp();
      const [first, good, other] = Array.from({ length: 3 }, () => fullSnapshot());
      const junk = nextRevision(fullSnapshot());
      const junkKey = `${keyPrefix}s:${JSON.stringify([junk.foundryExecutionId, junk.workflowId])}`;
      await admin.set(junkKey, "not a hash");
      const outcomes = await saveTogether(provider, first!, [good!, junk, other!]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
      const reason = (outcomes[2] as PromiseRejectedResult).reason as PersistenceError;
      expect(reason).toBeInstanceOf(PersistenceError);
      expect(reason).toMatchObject({ call: "save", keys: { foundryExecutionId: junk.foundryExecutionId } });
      expect(reason.message).toContain("[workflowforge:redis] save failed");
      expect(String((reason.cause as Error).message)).toContain("WRONGTYPE");
      expect(await admin.get(junkKey)).toBe("not a hash");
      for (const snapshot of [first!, good!, other!]) expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
    });

    it("two writes of one instance never share a command, and land in the order they were called", async () => {
      const { provider, sent } = await setUp();
      const [busy, twin, saved] = [fullSnapshot(), fullSnapshot(), fullSnapshot()];
      const order: string[] = [];
      const outcomes = await Promise.allSettled([
        provider.save(busy),
        provider.save(twin),
        provider.save({ ...twin, workflowName: "Rival" }),
        provider.save(saved).then(() => order.push("save")),
        provider.delete(saved.foundryExecutionId, saved.workflowId).then(() => order.push("delete")),
      ]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"]);
      expect((outcomes[2] as PromiseRejectedResult).reason).toBeInstanceOf(SnapshotConflictError);
      expect(order).toEqual(["save", "delete"]);
      // The lone first save; the twin and the save of `saved`; then the rival and the delete.
      expect(sent.map(isGroup)).toEqual([false, true, true]);
      expect(await provider.tryLoad(twin.foundryExecutionId, twin.workflowId)).toEqual(twin);
      expect(await provider.tryLoad(saved.foundryExecutionId, saved.workflowId)).toBeUndefined();
    });

    it("a delete called behind a large save of its instance never reaches the server first, though it fits where the save does not", async () => {
      let release!: () => void;
      const hung = new Promise<void>((resolve) => (release = resolve));
      let holding = false;
      const { provider, keyPrefix } = await setUp(() => (holding ? ((holding = false), hung) : undefined));
      holding = true;
      const big = "x".repeat(600_000);
      const [other, target] = [fullSnapshot({ properties: { big } }), fullSnapshot({ properties: { big } })];
      // Two 600 KB saves do not fit one group's 1 MB; the delete (no data) would fit beside the first.
      const calls = [provider.save(fullSnapshot()), provider.save(other), provider.save(target), provider.delete(target.foundryExecutionId, target.workflowId)];
      release();
      expect((await Promise.allSettled(calls)).map((outcome) => outcome.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "fulfilled"]);
      const member = JSON.stringify([target.foundryExecutionId, target.workflowId]);
      expect([await admin.exists(`${keyPrefix}s:${member}`), await admin.sismember(`${keyPrefix}index`, member), await admin.zscore(`${keyPrefix}claimable`, member)]).toEqual([0, 0, null]);
    });

    it("a write answered NOSCRIPT and sent again as EVAL still lands before the next write of its instance", async () => {
      // The first script's NOSCRIPT comes back late, as over a slow network, after another worker loaded the delete script again.
      let slowNext = false;
      const sent: string[] = [];
      const client: IoRedisLikeClient = {
        call: async (command, ...args) => {
          sent.push(command);
          const slow = slowNext && command === "EVALSHA";
          if (slow) slowNext = false;
          const reply = send([command, ...args]);
          if (!slow) return reply;
          await reply.catch(() => undefined);
          await new Promise((resolve) => setTimeout(resolve, 60));
          return reply;
        },
      };
      const keyPrefix = `grouped-${randomUUID()}:`;
      const provider = new RedisPersistenceProvider({ client, keyPrefix });
      const warm = fullSnapshot();
      await provider.save(warm);
      await provider.delete(warm.foundryExecutionId, warm.workflowId);
      await admin.script("FLUSH");
      await new RedisPersistenceProvider({ client: admin, keyPrefix }).delete("gone", "gone");
      const target = fullSnapshot();
      sent.length = 0;
      slowNext = true;
      const outcomes = await Promise.allSettled([provider.save(target), provider.delete(target.foundryExecutionId, target.workflowId)]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(["fulfilled", "fulfilled"]);
      // The save's EVALSHA, its EVAL, and only then the delete.
      expect(sent).toEqual(["EVALSHA", "EVAL", "EVALSHA"]);
      expect(await provider.tryLoad(target.foundryExecutionId, target.workflowId)).toBeUndefined();
    });

    it("odd keys go through a group as they go alone, and read back as themselves", async () => {
      const { provider, sent } = await setUp();
      const odd = ["\uD800 lone", "back\\slash \\u0041", "..", "\uFEFFbom", "é✓ 𝄞", "x".repeat(1_000), "nul\u0000inside", 'quote" and } brace'];
      const [first, ...rest] = odd.map((key) => fullSnapshot({ foundryExecutionId: `${key}-${randomUUID()}` }));
      const outcomes = await saveTogether(provider, first!, rest);
      expect(outcomes.every((outcome) => outcome.status === "fulfilled")).toBe(true);
      expect(sent.map(isGroup)).toEqual([false, true]);
      for (const snapshot of [first!, ...rest]) expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
    });

    it("after SCRIPT FLUSH a group falls back to EVAL once, and every save in it is stored", async () => {
      const { provider, sent } = await setUp();
      await admin.script("FLUSH");
      const [first, ...rest] = Array.from({ length: 3 }, () => fullSnapshot());
      await saveTogether(provider, first!, rest);
      expect(sent.map((one) => `${one.command}${isGroup(one) ? " group" : ""}`)).toEqual(["EVALSHA", "EVAL", "EVALSHA group", "EVAL group"]);
      for (const snapshot of [first!, ...rest]) expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
    });

    it("a group left unanswered rejects each of its writes within commandTimeoutMs, under its own keys", async () => {
      let release!: () => void;
      const hung = new Promise<void>((resolve) => (release = resolve));
      let holding = false;
      const { provider } = await setUp((one) => (holding && isGroup(one) ? hung : undefined), 300);
      holding = true;
      const [first, ...rest] = Array.from({ length: 3 }, () => fullSnapshot());
      const outcomes = await saveTogether(provider, first!, rest);
      release();
      expect(outcomes[0]?.status).toBe("fulfilled");
      for (const [i, outcome] of outcomes.slice(1).entries()) {
        expect(outcome.status).toBe("rejected");
        expect((outcome as PromiseRejectedResult).reason).toMatchObject({ name: "PersistenceError", call: "save", keys: { foundryExecutionId: rest[i]!.foundryExecutionId } });
        expect((outcome as PromiseRejectedResult).reason.message).toContain("did not answer within 300 ms (commandTimeoutMs)");
      }
    });

    it("a save whose signal aborts while it waits behind a command in flight rejects with the reason and is never sent", async () => {
      let release!: () => void;
      const hung = new Promise<void>((resolve) => (release = resolve));
      let holding = false;
      const { provider, sent } = await setUp(() => (holding ? ((holding = false), hung) : undefined));
      holding = true;
      const first = fullSnapshot();
      const saving = provider.save(first);
      const controller = new AbortController();
      const waiting = provider.save(fullSnapshot(), controller.signal);
      const reason = new Error("the caller gave up");
      controller.abort(reason);
      await expect(waiting).rejects.toBe(reason);
      release();
      await saving;
      expect(sent).toHaveLength(1);
      expect(await provider.tryLoad(first.foundryExecutionId, first.workflowId)).toEqual(first);
    });
  });
});

describe("RedisPersistenceProvider group commit, a reply no server sends", () => {
  it("an outcome that is not text fails that write alone with PersistenceError; the others keep theirs", async () => {
    let release!: () => void;
    let first = true;
    const client: IoRedisLikeClient = {
      call: async (_command, ...args) => {
        if (!first) return Array.from({ length: (Number(args[1]) - 3) / 2 }, (_, i) => (i === 0 ? 1 : ""));
        first = false;
        await new Promise<void>((resolve) => (release = resolve));
        return null;
      },
    };
    const provider = new RedisPersistenceProvider({ client, keyPrefix: "odd-reply:" });
    const snapshots = Array.from({ length: 3 }, () => fullSnapshot());
    const saves = snapshots.map((snapshot) => provider.save(snapshot));
    await new Promise((resolve) => setImmediate(resolve));
    release();
    const outcomes = await Promise.allSettled(saves);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const reason = (outcomes[1] as PromiseRejectedResult).reason as PersistenceError;
    expect(reason).toBeInstanceOf(PersistenceError);
    expect(reason).toMatchObject({ call: "save", keys: { foundryExecutionId: snapshots[1]!.foundryExecutionId } });
    expect(reason.message).toContain("no outcome for this write (number)");
  });

  it("a lone save answered with something other than nil or text is a PersistenceError, not a TypeError", async () => {
    const provider = new RedisPersistenceProvider({ client: { call: () => Promise.resolve(7) }, keyPrefix: "odd-reply:" });
    const snapshot = fullSnapshot();
    await expect(provider.save(snapshot)).rejects.toMatchObject({ name: "PersistenceError", call: "save", keys: { foundryExecutionId: snapshot.foundryExecutionId } });
  });
});
