// A worker process of the acceptance tests of durable waits, on a shared store (WAIT_STORE
// "sqlite" | "postgres" | "redis", at WAIT_URL: a database file's path or a server's URL).
// Every process runs a recovery coordinator (started: push where the store has it, else polling
// every 20 ms) and logs each step of the approval workflow it executes to WAIT_LOG ("R <id>",
// "C <id> <payload as JSON>"); a charge is also printed on stdout ("charged <id>").
//
// WAIT_MODE "deliver": prints "ready", and once stdin ends sends the "approved" event to each of
// the WAIT_COUNT instances "<WAIT_PREFIX><n>" (eventId "<id>-approval"), then prints
// "stored <how many deliveries stored an event>".
// WAIT_MODE "start": starts those instances; each suspends at its wait and is printed as "waiting <id>".
// WAIT_MODE "work": only the coordinator; prints "ready".
// WAIT_ON_COMPLETE "keep" keeps completed records (and so their events); else they are deleted.
// SIGTERM closes the coordinator and exits 0.
import { appendFileSync } from "node:fs";
import { once } from "node:events";
import Database from "better-sqlite3";
import { Redis } from "ioredis";
import pg from "pg";
import { createFoundry, createSmith, isSuspended } from "../../src/index.js";
import { createRecoveryCoordinator, signalInstance, usePersistence, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { PostgresPersistenceProvider } from "../../src/persistence/providers/postgres.js";
import { RedisPersistenceProvider } from "../../src/persistence/providers/redis.js";
import { SqlitePersistenceProvider } from "../../src/persistence/providers/sqlite.js";
import { approvalEvent, approvalOf, approvalWorkflow } from "./approval.js";

const env = process.env;
const log = env.WAIT_LOG ?? "";
const count = Number(env.WAIT_COUNT ?? 0);
const instances = Array.from({ length: count }, (_, index) => `${env.WAIT_PREFIX ?? ""}${index}`);

function openStore(): { provider: WorkflowPersistenceProvider; close: () => Promise<unknown> } {
  const url = env.WAIT_URL ?? "";
  if (env.WAIT_STORE === "postgres") {
    const pool = new pg.Pool({ connectionString: url, max: 4, options: "-c synchronous_commit=off" });
    pool.on("error", () => undefined);
    return { provider: new PostgresPersistenceProvider({ client: pool }), close: () => pool.end() };
  }
  if (env.WAIT_STORE === "redis") {
    const client = new Redis(url);
    return { provider: new RedisPersistenceProvider({ client }), close: () => client.quit() };
  }
  const database = new Database(url, { timeout: 30_000 });
  return { provider: new SqlitePersistenceProvider({ database }), close: () => Promise.resolve(database.close()) };
}

const { provider, close } = openStore();
const workflow = approvalWorkflow({
  reserved: (instance) => appendFileSync(log, `R ${instance}\n`),
  charged: (instance, approval) => {
    appendFileSync(log, `C ${instance} ${JSON.stringify(approval)}\n`);
    process.stdout.write(`charged ${instance}\n`);
  },
});
const onComplete = env.WAIT_ON_COMPLETE === "keep" ? "keep" : "delete";
const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow, concurrency: 8, leaseTtlMs: Number(env.WAIT_LEASE_MS ?? 30_000), onComplete });
coordinator.start({ pollIntervalMs: 20, onError: (error) => process.stderr.write(`pass failed: ${String(error)}\n`) });
process.on("SIGTERM", () => void coordinator.close().then(close).then(() => process.exit(0)));

/** Runs `work` for every instance, `parallel` at a time. */
async function each(parallel: number, work: (instance: string) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < instances.length) await work(instances[next++] as string);
  };
  await Promise.all(Array.from({ length: parallel }, lane));
}

if (env.WAIT_MODE === "deliver") {
  process.stdout.write("ready\n");
  process.stdin.resume();
  await once(process.stdin, "end");
  let stored = 0;
  await each(16, async (instance) => {
    const sent = await signalInstance(provider, { instanceId: instance, workflowKey: workflow.id }, approvalEvent, approvalOf(instance), { eventId: `${instance}-approval` });
    if (sent.stored) stored += 1;
  });
  process.stdout.write(`stored ${stored}\n`);
} else if (env.WAIT_MODE === "start") {
  const smith = createSmith();
  await each(8, async (instance) => {
    const foundry = usePersistence(createFoundry("approval", { properties: { instance } }), provider, { instanceId: instance, lease: { ttlMs: 30_000 } });
    try {
      await smith.forge(workflow, foundry);
      process.stdout.write(`completed ${instance}\n`);
    } catch (error) {
      if (!isSuspended(error)) throw error;
      process.stdout.write(`waiting ${instance}\n`);
    }
  });
} else {
  process.stdout.write("ready\n");
}
