import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, expect, it } from "vitest";
import type { WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { PostgresPersistenceProvider } from "../../src/persistence/providers/postgres.js";
import { RedisPersistenceProvider } from "../../src/persistence/providers/redis.js";
import { describeWithServer } from "../support/describe-with-server.js";
import { freshPostgresName } from "../support/postgres-pool.js";
import { startPostgres } from "../support/postgres-server.js";
import { startRedis } from "../support/redis-server.js";
import { runWakeupTrials, trialSeed, violations } from "./wakeup-trials.js";
import { scaled } from "../support/thorough.js";

// Issue 16, acceptance 1 on the real servers: 1,000 approval runs per store (300 in a local npm test), each sent its event
// before, during or after the run reaches its wait (see wakeup-trials.ts), woken by the coordinator
// through the store's push alone: its polls are an hour apart, so a push that never reaches it
// fails the test. Replay a failure with WORKFLOWFORGE_SEED=<the seed in the test's name>.

const trials = scaled("WORKFLOWFORGE_WAKEUP_TRIALS", 300, 1_000);
const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);

async function expectNoLostWakeup(provider: WorkflowPersistenceProvider, sender: WorkflowPersistenceProvider, seed: number): Promise<void> {
  expect(provider.capabilities?.push).toBe(true);
  const results = await runWakeupTrials({ provider, sender, trials, seed, pollIntervalMs: 3_600_000 });
  expect(violations(results), `seed ${seed}`).toEqual([]);
  expect([...results.charged.values()].flat()).toHaveLength(trials);
  expect(new Set(results.moments.values()).size).toBe(7);
  expect(new Set(results.forged.values())).toEqual(new Set(["completed", "suspended"]));
}

describeWithServer("no lost wake-up: Postgres", postgres, (server) => {
  const seed = trialSeed();
  // The runs' pool and the sender's, as two processes have; commits are not flushed one by one, which
  // changes nothing a client sees but lets 1,000 runs take seconds on a shared machine.
  const pools = [0, 1].map(() => new pg.Pool({ connectionString: server.url, max: 8, options: "-c synchronous_commit=off" }));
  for (const pool of pools) pool.on("error", () => undefined);
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end().catch(() => undefined)));
    await server.stop();
  });

  it(`every event sent before, during or after the wait is consumed once and every run completes (seed ${seed})`, async () => {
    const schema = freshPostgresName("wakeup");
    const [provider, sender] = pools.map((client) => new PostgresPersistenceProvider({ client, schema })) as [PostgresPersistenceProvider, PostgresPersistenceProvider];
    await provider.migrate();
    await expectNoLostWakeup(provider, sender, seed);
  }, 60_000);
});

describeWithServer("no lost wake-up: Redis", redis, (server) => {
  const seed = trialSeed();
  const clients = [0, 1].map(() => new Redis(server.url));
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.quit().catch(() => undefined)));
    await server.stop();
  });

  it(`every event sent before, during or after the wait is consumed once and every run completes (seed ${seed})`, async () => {
    const [provider, sender] = clients.map((client) => new RedisPersistenceProvider({ client })) as [RedisPersistenceProvider, RedisPersistenceProvider];
    await expectNoLostWakeup(provider, sender, seed);
  }, 60_000);
});
