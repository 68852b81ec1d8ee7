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

// Durable waits end to end on Redis: a run suspends at its wait through one client, an approval is
// sent through another, and a started coordinator on a third is woken by the store's push alone.

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
});
