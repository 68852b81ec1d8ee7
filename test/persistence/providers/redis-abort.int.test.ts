import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SnapshotConflictError } from "../../../src/persistence/index.js";
import { RedisPersistenceProvider } from "../../../src/persistence/providers/redis.js";
import { deliveredEvent, fullSnapshot, nextRevision } from "../../../src/persistence/testing/fixtures.js";
import { describeWithServer } from "../../support/describe-with-server.js";
import { redisClients, type ConnectedRedisClient } from "../../support/redis-clients.js";
import { startRedis } from "../../support/redis-server.js";

// A call whose signal aborts while its command waits for a server that stopped answering (SIGSTOP)
// rejects at once with the signal's reason, as the Postgres provider's does; the command already
// sent is not cancelled and runs once the server answers again. A claim waits for its script.

const server = await startRedis();

const drivers = redisClients;

// Far above the bound below: a call that waits for its deadline instead of its signal stays pending.
const commandTimeoutMs = 60_000;
const stillPending = Symbol("still pending");

/** How `promise` settled, or `stillPending` when it has not within `ms` (a generous upper bound, not a measurement). */
function settledWithin(promise: Promise<unknown>, ms: number): Promise<{ resolved: unknown } | { rejected: unknown } | typeof stillPending> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<typeof stillPending>((resolve) => (timer = setTimeout(resolve, ms, stillPending)));
  const settled = promise.then((resolved) => ({ resolved }), (rejected: unknown) => ({ rejected }));
  return Promise.race([settled, late]).finally(() => clearTimeout(timer));
}

/**
 * Runs every script the calls below send once, so that each of them is sent at once (EVALSHA of a
 * script the server knows): the abort then meets a command waiting for its reply.
 */
async function warm(provider: RedisPersistenceProvider): Promise<void> {
  const snapshot = fullSnapshot();
  await provider.save(snapshot);
  await provider.save(nextRevision(snapshot));
  await provider.deliver(deliveredEvent({ foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId }));
  await provider.list({});
  await provider.delete(snapshot.foundryExecutionId, snapshot.workflowId);
}

describeWithServer("RedisPersistenceProvider abort against a stopped redis-server", server, (started) => {
  const admin = new Redis(started.url);
  let pid = 0;
  beforeAll(async () => {
    // The server this file started, found by its own answer: the only process signalled here.
    pid = Number(/process_id:(\d+)/.exec(await admin.info("server"))?.[1]);
    expect(pid).toBeGreaterThan(0);
  });
  afterAll(async () => {
    await admin.quit();
    await started.stop();
  });

  /** Runs `body` with the server stopped (SIGSTOP), and lets it go on (SIGCONT) whatever happens. */
  async function whileStopped<T>(body: () => Promise<T>): Promise<T> {
    process.kill(pid, "SIGSTOP");
    try {
      return await body();
    } finally {
      process.kill(pid, "SIGCONT");
    }
  }

  describe.each(drivers)("through $name", (driver) => {
    let connected: ConnectedRedisClient;
    beforeAll(async () => (connected = await driver.connect(started.url)));
    afterAll(() => connected.close());

    it("save, delete, tryLoad, list, deliver and receive reject with the signal's reason once it aborts, not after commandTimeoutMs; what was sent still runs", async () => {
      const keyPrefix = `abort-${randomUUID()}:`;
      // One provider per call: each sends its command at once, none waits behind another's write.
      const provider = (): RedisPersistenceProvider => new RedisPersistenceProvider({ client: connected.client, keyPrefix, commandTimeoutMs });
      await warm(provider());
      const [saved, deleted] = [fullSnapshot(), fullSnapshot()];
      await provider().save(saved);
      await provider().save(deleted);
      const second = nextRevision(saved);
      const keys = { foundryExecutionId: saved.foundryExecutionId, workflowId: saved.workflowId };
      const event = deliveredEvent(keys);
      const controller = new AbortController();
      const reason = new Error("the run was aborted by its caller");
      const outcomes = await whileStopped(async () => {
        const { signal } = controller;
        const calls = {
          save: provider().save(second, signal),
          delete: provider().delete(deleted.foundryExecutionId, deleted.workflowId, signal),
          tryLoad: provider().tryLoad(keys.foundryExecutionId, keys.workflowId, signal),
          list: provider().list({}, signal),
          deliver: provider().deliver(event, signal),
          receive: provider().receive(keys, event.name, signal),
        };
        controller.abort(reason);
        const settled = await Promise.all(Object.values(calls).map((call) => settledWithin(call, 5_000)));
        return Object.fromEntries(Object.keys(calls).map((call, i) => [call, settled[i]]));
      });
      expect(outcomes).toEqual({ save: { rejected: reason }, delete: { rejected: reason }, tryLoad: { rejected: reason }, list: { rejected: reason }, deliver: { rejected: reason }, receive: { rejected: reason } });
      for (const outcome of Object.values(outcomes)) expect((outcome as { rejected: unknown }).rejected).toBe(reason);
      // Not cancelled: once the server answers again, the commands sent before the abort run.
      const after = provider();
      await expect.poll(() => after.tryLoad(keys.foundryExecutionId, keys.workflowId)).toMatchObject({ revision: 2 });
      await expect.poll(() => after.tryLoad(deleted.foundryExecutionId, deleted.workflowId)).toBeUndefined();
      await expect.poll(async () => (await after.receive(keys, event.name)).map((e) => e.eventId)).toEqual([event.eventId]);
      // Compare-and-set is as it was: the abandoned save is stored, so another save of its revision is refused.
      await expect(after.save({ ...second, properties: { again: true } })).rejects.toBeInstanceOf(SnapshotConflictError);
      await expect(after.save(nextRevision(second))).resolves.toBeUndefined();
    });

    it("a claim whose signal aborts while its script is unanswered still waits for it, and returns what it took", async () => {
      const keyPrefix = `abort-claim-${randomUUID()}:`;
      const provider = new RedisPersistenceProvider({ client: connected.client, keyPrefix, commandTimeoutMs });
      const workflowName = `Claimed-${randomUUID()}`;
      const record = fullSnapshot({ workflowName });
      await provider.save(record);
      const now = Date.now();
      const request = { owner: "claimer", now: new Date(now).toISOString(), leaseExpiresAt: new Date(now + 30_000).toISOString(), limit: 10, maxAttempts: 5, filter: { workflowName } };
      const controller = new AbortController();
      const { claim } = await whileStopped(async () => {
        const pending = provider.claim(request, controller.signal);
        controller.abort(new Error("the coordinator stopped"));
        // Still waiting for its script: rows it took with no one waiting would stay claimed until their lease ended.
        expect(await settledWithin(pending, 200)).toBe(stillPending);
        return { claim: pending };
      });
      expect((await claim).map((snapshot) => snapshot.foundryExecutionId)).toEqual([record.foundryExecutionId]);
    });
  });
});
