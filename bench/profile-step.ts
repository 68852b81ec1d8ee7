import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { Redis } from "ioredis";
import pg from "pg";
import { createFoundry, createSmith } from "../dist/index.js";
import { MemoryPersistenceProvider, createRecoveryCoordinator, usePersistence, type WorkflowPersistenceProvider } from "../dist/persistence/index.js";
import { PostgresPersistenceProvider } from "../dist/persistence/postgres.js";
import { RedisPersistenceProvider } from "../dist/persistence/redis.js";
import { startPostgres } from "../test/support/postgres-server.js";
import { startRedis } from "../test/support/redis-server.js";
import { rawRecord, rawTable, rawUpsert, steps, workflow } from "./scale-out-protocol.js";
import { pidIn, postmasterPid, serverCpuUs } from "./scale-out-server.js";

// One process's CPU per step, for profiling one side of the scale-out bench alone:
// `npx tsx bench/profile-step.ts <raw|plain|leased|coordinator> [instances] [postgres|redis|memory]`,
// under `node --cpu-prof --import tsx` to profile. On a throw-away Postgres by default (`redis`: a
// throw-away redis-server through ioredis, the raw side one SET per step); `memory` measures the
// engine and persistence path alone, with no network (no raw side). User and system time are
// reported apart: a CPU profile samples wall-clock time, so a socket write that hands the CPU to
// the server looks dear in it. PROFILE=<file.cpuprofile> profiles the measured round alone (not the
// warm-up, nor the coordinator's untimed enqueueing); PREPARED=0 sends Postgres statements as text.
// On Postgres it also reports the server's CPU per step (its processes, from /proc), the WAL it
// wrote, the share of the table's updates that were HOT (no index entry written) and the table's
// heap pages read per step: what tells a claim that scans dead rows from a heavier write.

const side = process.argv[2] ?? "coordinator";
const count = Number(process.argv[3] ?? 2_000);
const backend = process.argv[4] ?? "postgres";
if (backend === "memory" && side === "raw") throw new Error("the raw side needs a server");
const server = backend === "memory" ? undefined : backend === "redis" ? await startRedis() : await startPostgres();
if (server !== undefined && "skipped" in server) throw new Error(server.skipped);
const pool = server === undefined || backend !== "postgres" ? undefined : new pg.Pool({ connectionString: server.url, max: 4 });
const redis = server === undefined || backend !== "redis" ? undefined : new Redis(server.url);
const postgres = pool === undefined ? undefined : new PostgresPersistenceProvider({ client: pool, preparedStatements: process.env.PREPARED !== "0" });
const provider: WorkflowPersistenceProvider = postgres ?? (redis === undefined ? new MemoryPersistenceProvider() : new RedisPersistenceProvider({ client: redis, keyPrefix: "profile:" }));
await postgres?.migrate();
await pool?.query(`CREATE TABLE IF NOT EXISTS ${rawTable} (instance_id text PRIMARY KEY, data text NOT NULL)`);
const serverPid =
  pool !== undefined
    ? postmasterPid(((await pool.query("SHOW data_directory")).rows[0] as { data_directory: string }).data_directory)
    : redis === undefined
      ? undefined
      : await redis.info("server").then((info) => pidIn(() => /process_id:(\d+)/.exec(info)?.[1]));
const smith = createSmith();

async function inLanes(ids: readonly string[], lanes: number, task: (id: string) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < ids.length) await task(ids[next++] as string);
  };
  await Promise.all(Array.from({ length: lanes }, lane));
}

async function runSide(ids: readonly string[]): Promise<void> {
  if (side === "coordinator") {
    const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow, concurrency: 4 });
    for (;;) {
      const report = await coordinator.resumeAll();
      if (report.failed[0] !== undefined) throw report.failed[0].error;
      if (report.resumed.length === 0) break;
    }
    await coordinator.close();
  } else if (side === "plain" || side === "leased") {
    // leased: plain usePersistence with the coordinator's lease, to tell the lease's cost from the coordinator's.
    const lease = side === "leased" ? { lease: { ttlMs: 30_000 } } : {};
    await inLanes(ids, 4, async (id) => {
      const foundry = usePersistence(createFoundry(workflow.name, { executionId: id, properties: { n: 1 } }), provider, { instanceId: id, workflowKey: workflow.id, ...lease });
      await smith.forge(workflow, foundry, { input: 0 });
    });
  } else {
    await inLanes(ids, 4, async (id) => {
      const createdAt = new Date().toISOString();
      for (let step = 0; step < steps; step++) {
        const record = rawRecord(id, step, createdAt);
        await (redis === undefined ? pool?.query(rawUpsert, [id, record]) : redis.set(`profile-raw:${id}`, record));
      }
    });
  }
}

async function round(tag: string, n: number): Promise<Record<string, number>> {
  const ids = Array.from({ length: n }, (_, i) => `${tag}-${i}`);
  if (side === "coordinator") {
    // Enqueued beforehand, untimed, as in the scale-out bench.
    const enqueuer = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow });
    await inLanes(ids, 4, (id) => enqueuer.enqueue(workflow, { instanceId: id, properties: { n: 1 } }));
    await enqueuer.close();
  }
  const profile = tag === "measured" ? process.env.PROFILE : undefined;
  const session = profile === undefined ? undefined : new Session();
  session?.connect();
  await session?.post("Profiler.enable");
  await session?.post("Profiler.setSamplingInterval", { interval: 100 });
  await session?.post("Profiler.start");
  const before = await tableStats();
  const server = serverCpuUs(serverPid);
  const cpu = process.cpuUsage();
  const started = performance.now();
  await runSide(ids);
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - started) / 1000;
  const serverUs = (serverCpuUs(serverPid) ?? Number.NaN) - (server ?? Number.NaN);
  if (session !== undefined && profile !== undefined) writeFileSync(profile, JSON.stringify((await session.post("Profiler.stop")).profile));
  const stepCount = n * steps;
  const client = { cpuUsPerStep: (used.user + used.system) / stepCount, userUsPerStep: used.user / stepCount, systemUsPerStep: used.system / stepCount, stepsPerS: stepCount / seconds };
  const after = await tableStats();
  if (before === undefined || after === undefined) return client;
  const updates = after.updates - before.updates;
  return { ...client, serverUsPerStep: serverUs / stepCount, walBytesPerStep: (after.wal - before.wal) / stepCount, hotShare: (after.hot - before.hot) / updates, heapPagesPerStep: (after.heapPages - before.heapPages) / stepCount };
}

// The snapshot table's counters. Each backend sends its counters at the end of a transaction at
// most once a second: wait that long, then run one statement on every connection of the pool.
async function tableStats(): Promise<{ wal: number; updates: number; hot: number; heapPages: number } | undefined> {
  if (pool === undefined) return undefined;
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  const clients = await Promise.all(Array.from({ length: 4 }, () => pool.connect()));
  for (const client of clients) {
    await client.query("SELECT 1");
    client.release();
  }
  const { rows } = await pool.query(
    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 AS wal, n_tup_upd::float8 AS updates, n_tup_hot_upd::float8 AS hot, (heap_blks_hit + heap_blks_read)::float8 AS heap_pages " +
      "FROM pg_stat_user_tables JOIN pg_statio_user_tables USING (relid) WHERE pg_stat_user_tables.relname = 'workflowforge_snapshots'",
  );
  const row = rows[0] as { wal: number; updates: number; hot: number; heap_pages: number };
  return { wal: row.wal, updates: row.updates, hot: row.hot, heapPages: row.heap_pages };
}

try {
  await round("warm", 300);
  console.log(side, JSON.stringify(await round("measured", count)));
} finally {
  await pool?.end();
  await redis?.quit();
  if (server !== undefined && !("skipped" in server)) await server.stop();
}
