import Database from "better-sqlite3";
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { createFoundry, createSmith, isSuspended } from "../../src/index.js";
import { usePersistence, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { PostgresPersistenceProvider } from "../../src/persistence/providers/postgres.js";
import { RedisPersistenceProvider } from "../../src/persistence/providers/redis.js";
import { SqlitePersistenceProvider } from "../../src/persistence/providers/sqlite.js";
import { listSnapshots } from "../../src/persistence/recovery/list.js";
import { describeWithServer } from "../support/describe-with-server.js";
import { startPostgres } from "../support/postgres-server.js";
import { startRedis } from "../support/redis-server.js";
import { approvalOf, approvalWorkflow } from "./approval.js";
import { chargeCounter, startWorker, stepLog, waitChild } from "./wait-workers.js";
import { scaled } from "../support/thorough.js";

// Issue 16, acceptance 2 (exactly one continuation): 1,000 instances (30 in a local npm test) wait for "approved"; five
// processes, each running a started coordinator, send every instance that event at once with the
// same eventId. Each instance continues once: one delivery stores the event, its charge step runs
// once, with the payload, and its record ends completed with that one event consumed. Completed
// records are kept: deleting one deletes its events too, so a duplicate arriving after that would
// be stored again, for an instance that no longer exists.

// 30 instances per store in a local npm test, which must stay within its budget on two cores; 1,000 in .ci/run.
const instances = scaled("WORKFLOWFORGE_CONTINUATION_INSTANCES", 30, 1_000);
const senders = 5;
const child = waitChild();
const root = mkdtempSync(join(tmpdir(), "workflowforge-one-continuation-"));
const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function expectOneContinuation(provider: WorkflowPersistenceProvider, store: string, url: string): Promise<void> {
  const dir = mkdtempSync(join(root, `${store}-`));
  const log = join(dir, "steps");
  const workflow = approvalWorkflow({ reserved: (instance) => appendFileSync(log, `R ${instance}\n`), charged: () => undefined });
  const ids = Array.from({ length: instances }, (_, index) => `expense-${index}`);
  const smith = createSmith();
  let next = 0;
  const suspended: string[] = [];
  const start = async (): Promise<void> => {
    for (let id = ids[next++]; id !== undefined; id = ids[next++]) {
      const foundry = usePersistence(createFoundry("approval", { properties: { instance: id } }), provider, { instanceId: id });
      const outcome = await smith.forge(workflow, foundry).catch((error: unknown) => error);
      if (isSuspended(outcome)) suspended.push(id);
    }
  };
  await Promise.all(Array.from({ length: 16 }, start));
  expect(suspended).toHaveLength(instances);

  const counter = chargeCounter(instances);
  const env = { WAIT_STORE: store, WAIT_URL: url, WAIT_LOG: log, WAIT_MODE: "deliver", WAIT_COUNT: String(instances), WAIT_PREFIX: "expense-", WAIT_ON_COMPLETE: "keep" };
  const workers = Array.from({ length: senders }, () => startWorker(child, env, counter.charged));
  try {
    await Promise.all(workers.map((worker) => worker.line((line) => line === "ready")));
    for (const worker of workers) worker.process.stdin?.end();
    const stored = await Promise.all(workers.map((worker) => worker.line((line) => line.startsWith("stored "))));
    await counter.all;
    expect(stored.reduce((sum, line) => sum + Number(line.slice("stored ".length)), 0)).toBe(instances);
  } finally {
    for (const worker of workers) worker.process.kill("SIGTERM");
  }
  for (const worker of workers) expect(await worker.exited, worker.stderr()).toEqual({ code: 0, signal: null });

  const { reserved, charged } = stepLog(log);
  const wrong = ids.filter((id) => reserved.get(id) !== 1 || JSON.stringify(charged.get(id)) !== JSON.stringify([approvalOf(id)]));
  expect(wrong.map((id) => `${id}: reserve ran ${reserved.get(id) ?? 0} times, charge with ${JSON.stringify(charged.get(id) ?? [])}`)).toEqual([]);
  const records = await listSnapshots(provider, {}, undefined);
  expect(records).toHaveLength(instances);
  const unlike = records.filter((record) => record.status !== "completed" || JSON.stringify(record.consumedEvents) !== JSON.stringify([`${record.foundryExecutionId}-approval`]));
  expect(unlike.map((record) => `${record.foundryExecutionId}: ${record.status}, consumed ${JSON.stringify(record.consumedEvents)}`)).toEqual([]);
}

describe("exactly one continuation: SQLite", () => {
  it(`${instances} waiting instances each sent one event by 5 processes at once continue once each`, async () => {
    const file = join(root, "snapshots.db");
    const database = new Database(file, { timeout: 30_000 });
    const provider = new SqlitePersistenceProvider({ database });
    await provider.migrate();
    try {
      await expectOneContinuation(provider, "sqlite", file);
    } finally {
      database.close();
    }
  }, 90_000);
});

describeWithServer("exactly one continuation: Postgres", postgres, (server) => {
  const pool = new pg.Pool({ connectionString: server.url, max: 8, options: "-c synchronous_commit=off" });
  pool.on("error", () => undefined);
  afterAll(async () => {
    await pool.end().catch(() => undefined);
    await server.stop();
  });

  it(`${instances} waiting instances each sent one event by 5 processes at once continue once each`, async () => {
    const provider = new PostgresPersistenceProvider({ client: pool });
    await provider.migrate();
    await expectOneContinuation(provider, "postgres", server.url);
  }, 90_000);
});

describeWithServer("exactly one continuation: Redis", redis, (server) => {
  const client = new Redis(server.url);
  afterAll(async () => {
    await client.quit().catch(() => undefined);
    await server.stop();
  });

  it(`${instances} waiting instances each sent one event by 5 processes at once continue once each`, async () => {
    await expectOneContinuation(new RedisPersistenceProvider({ client }), "redis", server.url);
  }, 90_000);
});
