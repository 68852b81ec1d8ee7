import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { afterAll, expect, it } from "vitest";
import { action, createFoundry, createSmith, createWorkflow, isSuspended, waitForEvent } from "../../../src/index.js";
import { createRecoveryCoordinator, signalInstance, usePersistence } from "../../../src/persistence/index.js";
import type { ClaimRequest } from "../../../src/persistence/provider.js";
import { RedisPersistenceProvider } from "../../../src/persistence/providers/redis.js";
import { describeWithServer } from "../../support/describe-with-server.js";
import { startRedis } from "../../support/redis-server.js";

// Durable waits end to end on Redis: runs suspend at their wait through one client, approvals are
// sent through another, and a coordinator resumes them.

const turns = async (count: number): Promise<void> => {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
};

const server = await startRedis();

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

  it("a started coordinator resumes a suspended approval when another client signals it: woken by push, not by its poll", async () => {
    const keyPrefix = `waits-${randomUUID()}:`;
    const ran: string[] = [];
    let finished!: (output: string) => void;
    const done = new Promise<string>((resolve) => (finished = resolve));
    const expense = createWorkflow("Expense")
      .addOperation(action("reserve", () => void ran.push("reserve")))
      .addOperation(waitForEvent<{ by: string }>("approval", "approved", { timeoutMs: 7 * 86_400_000 }))
      .addOperation(action("pay-out", (approval: { by: string }) => (ran.push("pay-out"), finished(`paid, approved by ${approval.by}`), "paid")))
      .build();

    // The worker's coordinator, on a node-redis client; its first pass is seen to end before the signal.
    const nodeRedis = await createClient({ url: started.url }).connect();
    clients.push({ close: () => nodeRedis.close() });
    const coordinatorStore = new RedisPersistenceProvider({ client: nodeRedis, keyPrefix });
    let firstPass!: () => void;
    const firstPassEnded = new Promise<void>((resolve) => (firstPass = resolve));
    const watched = new Proxy(coordinatorStore, {
      get(target, property) {
        if (property === "claim") return (request: ClaimRequest) => target.claim(request).finally(() => firstPass());
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const coordinator = createRecoveryCoordinator({ provider: watched, resolveWorkflow: () => expense });
    try {
      coordinator.start({ pollIntervalMs: 600_000 });
      await firstPassEnded;
      const admin = ioredis();
      await expect.poll(() => admin.pubsub("NUMSUB", `${keyPrefix}due`).then((reply) => reply[1])).toBe(1);

      const runner = new RedisPersistenceProvider({ client: ioredis(), keyPrefix });
      const foundry = usePersistence(createFoundry("Expense"), runner, { instanceId: "expense-7" });
      expect(isSuspended(await createSmith().forge(expense, foundry).catch((error: unknown) => error))).toBe(true);
      expect(await runner.tryLoad("expense-7", "Expense")).toMatchObject({ status: "waiting", waitingFor: "approved" });

      const sender = new RedisPersistenceProvider({ client: ioredis(), keyPrefix });
      expect(await signalInstance(sender, { instanceId: "expense-7", workflowKey: "Expense" }, "approved", { by: "ann" }, { eventId: "mail-1" })).toMatchObject({ stored: true });
      expect(await done).toBe("paid, approved by ann");
      expect(ran).toEqual(["reserve", "pay-out"]);
    } finally {
      await coordinator.close();
    }
  });

  it("1,000 approvals, each sent before, during or after its run reaches the wait: every event is consumed once and every run completes", async () => {
    const keyPrefix = `trials-${randomUUID()}:`;
    const nodeRedis = await createClient({ url: started.url }).connect();
    clients.push({ close: () => nodeRedis.close() });
    const provider = new RedisPersistenceProvider({ client: ioredis(), keyPrefix });
    const sender = new RedisPersistenceProvider({ client: nodeRedis, keyPrefix });
    const paid = new Map<string, unknown[]>();
    const approval = createWorkflow("Approval")
      .addOperation(action("reserve", () => undefined))
      .addOperation(waitForEvent<{ id: string }>("approval", "approved"))
      .addOperation(action("charge", (event: { id: string }) => void paid.set(event.id, [...(paid.get(event.id) ?? []), event])))
      .build();
    const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => approval });
    const timings = ["before", "during", "after"] as const;
    const trial = async (id: string, when: (typeof timings)[number]): Promise<void> => {
      const send = () => signalInstance(sender, { instanceId: id, workflowKey: "Approval" }, "approved", { id }, { eventId: `mail-${id}` });
      const forge = () =>
        createSmith()
          .forge(approval, usePersistence(createFoundry("Approval"), provider, { instanceId: id }))
          .catch((error: unknown) => {
            if (!isSuspended(error)) throw error;
          });
      if (when === "before") await send().then(forge);
      else if (when === "after") await forge().then(send);
      else await Promise.all([forge(), turns(Math.floor(Math.random() * 12)).then(send)]);
    };
    try {
      for (let batch = 0; batch < 20; batch++) {
        const ids = Array.from({ length: 50 }, (_, i) => `approval-${batch * 50 + i}`);
        await Promise.all(ids.map((id) => trial(id, timings[Math.floor(Math.random() * 3)]!)));
        // What suspended is due now (its event arrived): one pass resumes it.
        await coordinator.resumeAll();
      }
      expect(await provider.list()).toEqual([]);
      expect(paid.size).toBe(1_000);
      for (const [id, events] of paid) expect(events, id).toEqual([{ id }]);
    } finally {
      await coordinator.close();
    }
  }, 120_000);
});
