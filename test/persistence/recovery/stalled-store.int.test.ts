import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, expect, it, onTestFinished } from "vitest";
import type { Workflow } from "../../../src/index.js";
import { createRecoveryCoordinator, type ClaimRequest, type RecoveryReport, type WorkflowExecutionSnapshot, type WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { PostgresPersistenceProvider } from "../../../src/persistence/providers/postgres.js";
import { RedisPersistenceProvider } from "../../../src/persistence/providers/redis.js";
import { countedWorkflow, runCounts } from "../../support/counted-workflow.js";
import { describeWithServer } from "../../support/describe-with-server.js";
import { freshPostgresName } from "../../support/postgres-pool.js";
import { startPostgres } from "../../support/postgres-server.js";
import { sleep } from "../../support/promises.js";
import { startRedis } from "../../support/redis-server.js";
import { interruptedRecord } from "./fixtures.js";

// A store frozen with SIGSTOP while three coordinators, each on a connection of its own, keep
// passing: each sends a claim, gives up on it after a lease, and sends another once its hold of five
// leases lapsed. Thawed, the store runs every queued claim after that claim's lease ended, by its
// own clock: they claim nothing, so the stall spends no attempt, whichever coordinators' claims
// alternate in the queue. Then every instance runs once.

const [redisServer, postgresServer] = await Promise.all([startRedis(), startPostgres()]);
const leaseTtlMs = 250;
const instances = 4;

/** A provider object on a connection of its own, and how to freeze and thaw what serves it. */
interface Connection {
  readonly provider: WorkflowPersistenceProvider;
  freeze(): Promise<void>;
  thaw(): void;
  close(): Promise<unknown>;
}

/** Each worker's claims as sent, and how many of them the store answered (or refused). */
interface Worker {
  readonly sent: ClaimRequest[];
  answered: number;
}

function counted(provider: WorkflowPersistenceProvider): Worker {
  const worker: Worker = { sent: [], answered: 0 };
  const claim = provider.claim!.bind(provider);
  provider.claim = (request, signal, options) => {
    worker.sent.push(request);
    return claim(request, signal, options).finally(() => void (worker.answered += 1));
  };
  return worker;
}

async function stallsSpendNoAttempt(open: () => Promise<Connection>): Promise<void> {
  const opened: Connection[] = [];
  const connect = async () => {
    const connection = await open();
    opened.push(connection);
    return connection;
  };
  try {
    await spendsNoAttempt(connect);
  } finally {
    for (const connection of opened) await connection.close();
  }
}

/** Interrupted runs of `workflow`: operation 0 done, their worker's lease over. */
function interrupted(workflow: Workflow, count: number): WorkflowExecutionSnapshot[] {
  return Array.from({ length: count }, (_, index) => interruptedRecord(workflow, `stalled-${index}-${randomUUID()}`));
}

async function spendsNoAttempt(connect: () => Promise<Connection>): Promise<void> {
  const { workflow, log } = countedWorkflow(2, { name: `Stalled-${randomUUID()}`, version: "1" });
  const setup = await connect();
  const records = interrupted(workflow, instances);
  for (const record of records) await setup.provider.save(record);
  const stored = () => Promise.all(records.map(async (record) => await setup.provider.tryLoad(record.foundryExecutionId, record.workflowId)));
  const before = await stored();

  const connections: Connection[] = [];
  for (let index = 0; index < 3; index++) connections.push(await connect());
  const workers = connections.map((connection) => counted(connection.provider));
  const coordinators = connections.map(({ provider }, index) =>
    createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow, owner: `worker-${index}`, leaseTtlMs, retry: { attempts: 3, baseDelayMs: 1 } }),
  );
  for (const connection of connections) await connection.freeze();
  try {
    // Each passes until it has sent three claims: its first, and one each time its hold lapsed.
    await Promise.all(
      coordinators.map(async (coordinator, index) => {
        while (workers[index]!.sent.length < 3) {
          await coordinator.resumeAll().catch(() => undefined);
          await sleep(leaseTtlMs / 5);
        }
      }),
    );
    // Every claim sent has a lease that ends before the store runs it.
    const lastLease = Math.max(...workers.flatMap((worker) => worker.sent.map((request) => Date.parse(request.leaseExpiresAt))));
    while (Date.now() <= lastLease) await sleep(leaseTtlMs / 5);
  } finally {
    for (const connection of connections) connection.thaw();
  }
  while (workers.some((worker) => worker.answered < worker.sent.length)) await sleep(10);
  // What a claim took would be given back by now: close() settles once every give-back has.
  await Promise.all(coordinators.map((coordinator) => coordinator.close()));
  expect(await stored()).toEqual(before);

  const report = await createRecoveryCoordinator({ provider: setup.provider, resolveWorkflow: () => workflow, owner: "after-the-stall", retry: { attempts: 3 } }).resumeAll({ workflowName: workflow.name });
  expect(report.resumed.map((outcome) => outcome.attempts)).toEqual(Array.from({ length: instances }, () => 1));
  expect(report.failed).toEqual([]);
  expect(runCounts(log, 2)).toEqual([0, instances]);
}

describeWithServer("the coordinator on a real redis-server frozen with SIGSTOP", redisServer, (server) => {
  afterAll(() => server.stop());

  it("three coordinators' claims the server runs after their leases ended spend no attempt, and every instance then runs once", async () => {
    const keyPrefix = `stalled-${randomUUID()}:`;
    const admin = new Redis(server.url);
    const pid = Number(/process_id:(\d+)/.exec(await admin.info("server"))?.[1]);
    expect(pid).toBeGreaterThan(0);
    onTestFinished(() => void admin.disconnect());
    await stallsSpendNoAttempt(() => {
      const client = new Redis(server.url);
      return Promise.resolve({
        provider: new RedisPersistenceProvider({ client, keyPrefix }),
        // The whole server: every connection's commands wait for the thaw.
        freeze: () => Promise.resolve(void process.kill(pid, "SIGSTOP")),
        thaw: () => void process.kill(pid, "SIGCONT"),
        close: () => client.quit(),
      });
    });
  }, 60_000);

  it("a claim the server runs within its lease after a stall longer than commandTimeoutMs is waited for and run, at one attempt", async () => {
    const { workflow, log } = countedWorkflow(2, { name: `Stalled-${randomUUID()}`, version: "1" });
    const [admin, client] = [new Redis(server.url), new Redis(server.url)];
    onTestFinished(() => void (admin.disconnect(), client.disconnect()));
    const pid = Number(/process_id:(\d+)/.exec(await admin.info("server"))?.[1]);
    const provider = new RedisPersistenceProvider({ client, keyPrefix: `stalled-${randomUUID()}:`, commandTimeoutMs: 200 });
    const worker = counted(provider);
    const [record] = interrupted(workflow, 1);
    await provider.save(record!);
    const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow, owner: "worker", leaseTtlMs: 10_000 });
    process.kill(pid, "SIGSTOP");
    let pass: Promise<RecoveryReport>;
    try {
      pass = coordinator.resumeAll();
      while (worker.sent.length === 0) await sleep(10);
      // Frozen for twice commandTimeoutMs, and thawed well within the claim's lease.
      await sleep(400);
    } finally {
      process.kill(pid, "SIGCONT");
    }
    const report = await pass;
    expect(report.resumed).toMatchObject([{ instanceId: record!.foundryExecutionId, attempts: 1 }]);
    expect(runCounts(log, 2)).toEqual([0, 1]);
    await coordinator.close();
  }, 60_000);
});

describeWithServer("the coordinator on a real PostgreSQL server whose connections are frozen with SIGSTOP", postgresServer, (server) => {
  afterAll(() => server.stop());

  it("three coordinators' claims the server runs after their leases ended spend no attempt, and every instance then runs once", async () => {
    const tableName = freshPostgresName("stalled");
    await stallsSpendNoAttempt(async () => {
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      const provider = new PostgresPersistenceProvider({ client, tableName });
      await provider.migrate();
      // This connection's own backend: the others, and the server, go on.
      const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      const pid = rows[0]!.pid;
      return {
        provider,
        freeze: () => Promise.resolve(void process.kill(pid, "SIGSTOP")),
        thaw: () => void process.kill(pid, "SIGCONT"),
        close: () => client.end(),
      };
    });
  }, 60_000);
});
