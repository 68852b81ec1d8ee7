import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { afterAll, expect, it } from "vitest";
import { action, createFoundry, createSmith, createWorkflow, isSuspended, waitForEvent } from "../../../src/index.js";
import { createRecoveryCoordinator, usePersistence, type RecoveryOutcome } from "../../../src/persistence/index.js";
import { RedisPersistenceProvider } from "../../../src/persistence/providers/redis.js";
import { bundleForChild } from "../../support/bundle.js";
import { approvals, approvalTrials, pushedApproval, type PushedApprovalStores } from "../../support/approval-trials.js";
import { describeWithServer } from "../../support/describe-with-server.js";
import { runChild } from "../../support/processes.js";
import { startRedis } from "../../support/redis-server.js";
import { scaled } from "../../support/thorough.js";

// Durable waits end to end on Redis: runs suspend at their wait through one client, approvals are
// sent through another, and a coordinator resumes them.

const server = await startRedis();
// Instances raced for by five senders: 100 in a local npm test, 300 in .ci/run.
const raced = scaled("WORKFLOWFORGE_RACED_INSTANCES", 100, 300);

describeWithServer("Durable waits on a real redis-server", server, (started) => {
  const clients: { close(): Promise<unknown> }[] = [];
  afterAll(async () => {
    for (const client of clients) await client.close();
    await started.stop();
  });
  const ioredis = (): Redis => {
    const client = new Redis(started.url);
    clients.push({ close: () => client.quit() });
    return client;
  };

  // The worker's coordinator on a node-redis client; the run and the sender on ioredis clients.
  const pushStores = async (): Promise<PushedApprovalStores> => {
    const keyPrefix = `waits-${randomUUID()}:`;
    const nodeRedis = await createClient({ url: started.url }).connect();
    clients.push({ close: () => nodeRedis.close() });
    const admin = ioredis();
    return {
      coordinator: new RedisPersistenceProvider({ client: nodeRedis, keyPrefix }),
      runner: new RedisPersistenceProvider({ client: ioredis(), keyPrefix }),
      sender: new RedisPersistenceProvider({ client: ioredis(), keyPrefix }),
      listeners: () => admin.pubsub("NUMSUB", `${keyPrefix}due`).then((reply) => Number(reply[1])),
    };
  };

  it("a started coordinator resumes a suspended approval when another client signals it: woken by push, not by its poll", async () => {
    await pushedApproval(await pushStores());
  });

  it("a signal sent after a started coordinator's first pass but before its subscription took effect is not left to the poll", async () => {
    await pushedApproval(await pushStores(), "before-subscribed");
  });

  it(`${approvals} approvals, each sent before, during or after its run reaches the wait: every event is consumed once and every run completes`, async () => {
    const keyPrefix = `trials-${randomUUID()}:`;
    const nodeRedis = await createClient({ url: started.url }).connect();
    clients.push({ close: () => nodeRedis.close() });
    const provider = new RedisPersistenceProvider({ client: ioredis(), keyPrefix });
    const sender = new RedisPersistenceProvider({ client: nodeRedis, keyPrefix });
    await approvalTrials(provider, sender);
  }, 120_000);

  it(`${raced} waiting instances each sent one event 5 times at once from 5 processes, with 2 started coordinators: every instance continues exactly once`, async () => {
    const keyPrefix = `once-${randomUUID()}:`;
    const count = raced;
    let charges = 0;
    const resumed = new Map<string, number>();
    let allResumed!: () => void;
    let failed!: (error: unknown) => void;
    const done = new Promise<void>((resolve, reject) => ([allResumed, failed] = [resolve, reject]));
    const onOutcome = (outcome: RecoveryOutcome): void => {
      if (outcome.status === "failed") failed(outcome.error);
      if (outcome.status !== "resumed") return;
      resumed.set(outcome.instanceId, (resumed.get(outcome.instanceId) ?? 0) + 1);
      if (resumed.size === count) allResumed();
    };
    const approval = createWorkflow("Approval")
      .addOperation(waitForEvent<{ tag: string }>("approval", "approved"))
      .addOperation(action("charge", () => void (charges += 1)))
      .build();
    const provider = new RedisPersistenceProvider({ client: ioredis(), keyPrefix });
    // The instances the children deliver to ("race-<i>" / "w"), suspended at their wait. Kept once
    // completed: a delete would clear their events too, and a delivery after it would be a new event.
    for (let i = 0; i < count; i++) {
      const foundry = usePersistence(createFoundry("Approval"), provider, { instanceId: `race-${i}`, workflowKey: "w", onComplete: "keep" });
      expect(isSuspended(await createSmith().forge(approval, foundry).catch((error: unknown) => error))).toBe(true);
    }
    const coordinators = [ioredis(), ioredis()].map((client) => createRecoveryCoordinator({ provider: new RedisPersistenceProvider({ client, keyPrefix }), resolveWorkflow: () => approval, onOutcome, onComplete: "keep" }));
    try {
      for (const coordinator of coordinators) coordinator.start({ pollIntervalMs: 200 });
      const child = bundleForChild(fileURLToPath(new URL("./redis-deliver-child.ts", import.meta.url)));
      const drivers = ["ioredis", "node-redis", "ioredis", "node-redis", "ioredis"];
      const runs = drivers.map((driver, i) => runChild(child, { REDIS_URL: started.url, KEY_PREFIX: keyPrefix, DRIVER: driver, COUNT: String(count), TAG: `p${i}` }));
      const admin = ioredis();
      for (let i = 0; i < drivers.length; i++) await admin.blpop(`${keyPrefix}ready`, 30);
      await admin.rpush(`${keyPrefix}go`, ...drivers.map(() => "go"));
      const stored = (await Promise.all(runs)).map((out) => JSON.parse(out) as boolean[]);
      for (let i = 0; i < count; i++) expect(stored.filter((byProcess) => byProcess[i] === true), `race-${i}`).toHaveLength(1);
      await done;
    } finally {
      await Promise.all(coordinators.map((coordinator) => coordinator.close()));
    }
    expect([...resumed.values()].filter((times) => times !== 1)).toEqual([]);
    expect(charges).toBe(count);
    expect(await provider.list({ status: "completed" })).toHaveLength(count);
  }, 120_000);
});
