import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { signalInstance, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { PostgresPersistenceProvider } from "../../src/persistence/providers/postgres.js";
import { RedisPersistenceProvider } from "../../src/persistence/providers/redis.js";
import { SqlitePersistenceProvider } from "../../src/persistence/providers/sqlite.js";
import { listSnapshots } from "../../src/persistence/recovery/list.js";
import { describeWithServer } from "../support/describe-with-server.js";
import { startPostgres } from "../support/postgres-server.js";
import { startRedis } from "../support/redis-server.js";
import { approvalEvent, approvalOf } from "./approval.js";
import { chargeCounter, startWorker, stepLog, waitChild, type Worker } from "./wait-workers.js";
import { scaled } from "../support/thorough.js";

// Issue 16, acceptance 3 (crash while waiting): two workers start the instances, which suspend at
// their approval wait; every worker is then killed with SIGKILL. Half of the events are sent while
// no worker is alive, two new workers start, the other half is sent to them: every instance
// resumes and completes, each step once, the charge with its own payload, and the store is empty.

// Half started by each of two workers.
const half = Math.ceil(scaled("WORKFLOWFORGE_CRASH_RUNS", 6, 100) / 2);
const instances = 2 * half;
const child = waitChild();
const root = mkdtempSync(join(tmpdir(), "workflowforge-crash-waiting-"));
const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function expectResumedAfterCrash(provider: WorkflowPersistenceProvider, store: string, url: string): Promise<void> {
  const dir = mkdtempSync(join(root, `${store}-`));
  const base = { WAIT_STORE: store, WAIT_URL: url, WAIT_LOG: join(dir, "steps"), WAIT_COUNT: String(half) };
  const prefixes = ["first-", "second-"];
  const ids = prefixes.flatMap((prefix) => Array.from({ length: half }, (_, index) => `${prefix}${index}`));
  const workflowKey = "approval@1";

  const starters = prefixes.map((prefix) => startWorker(child, { ...base, WAIT_MODE: "start", WAIT_PREFIX: prefix }));
  await Promise.all(ids.map((id) => starters[id.startsWith("first-") ? 0 : 1]!.line((line) => line === `waiting ${id}`)));
  const waiting = await listSnapshots(provider, { status: "waiting" }, undefined);
  expect(waiting.map((record) => record.foundryExecutionId).sort()).toEqual([...ids].sort());
  await killAll(starters);

  const send = (id: string): Promise<unknown> => signalInstance(provider, { instanceId: id, workflowKey }, approvalEvent, approvalOf(id), { eventId: `${id}-approval` });
  const [sentEarly, sentLate] = [ids.filter((_, index) => index % 2 === 0), ids.filter((_, index) => index % 2 === 1)];
  await Promise.all(sentEarly.map(send));
  const counter = chargeCounter(instances);
  const workers = [0, 1].map(() => startWorker(child, { ...base, WAIT_MODE: "work" }, counter.charged));
  try {
    await Promise.all(workers.map((worker) => worker.line((line) => line === "ready")));
    await Promise.all(sentLate.map(send));
    await counter.all;
  } finally {
    for (const worker of workers) worker.process.kill("SIGTERM");
  }
  for (const worker of workers) expect(await worker.exited, worker.stderr()).toEqual({ code: 0, signal: null });

  const { reserved, charged } = stepLog(base.WAIT_LOG);
  const wrong = ids.filter((id) => reserved.get(id) !== 1 || JSON.stringify(charged.get(id)) !== JSON.stringify([approvalOf(id)]));
  expect(wrong.map((id) => `${id}: reserve ran ${reserved.get(id) ?? 0} times, charge with ${JSON.stringify(charged.get(id) ?? [])}`)).toEqual([]);
  expect(await listSnapshots(provider, {}, undefined)).toEqual([]);
}

async function killAll(workers: readonly Worker[]): Promise<void> {
  for (const worker of workers) worker.process.kill("SIGKILL");
  for (const worker of workers) expect((await worker.exited).signal).toBe("SIGKILL");
}

describe("crash while waiting: SQLite", () => {
  it("instances waiting when every worker is killed resume and complete once new workers start and their events are sent", async () => {
    const file = join(root, "snapshots.db");
    const database = new Database(file, { timeout: 30_000 });
    const provider = new SqlitePersistenceProvider({ database });
    await provider.migrate();
    try {
      await expectResumedAfterCrash(provider, "sqlite", file);
    } finally {
      database.close();
    }
  }, 90_000);
});

describeWithServer("crash while waiting: Postgres", postgres, (server) => {
  const pool = new pg.Pool({ connectionString: server.url, max: 4 });
  pool.on("error", () => undefined);
  afterAll(async () => {
    await pool.end().catch(() => undefined);
    await server.stop();
  });

  it("instances waiting when every worker is killed resume and complete once new workers start and their events are sent", async () => {
    const provider = new PostgresPersistenceProvider({ client: pool });
    await provider.migrate();
    await expectResumedAfterCrash(provider, "postgres", server.url);
  }, 90_000);
});

describeWithServer("crash while waiting: Redis", redis, (server) => {
  const client = new Redis(server.url);
  afterAll(async () => {
    await client.quit().catch(() => undefined);
    await server.stop();
  });

  it("instances waiting when every worker is killed resume and complete once new workers start and their events are sent", async () => {
    await expectResumedAfterCrash(new RedisPersistenceProvider({ client }), "redis", server.url);
  }, 90_000);
});
