import { fork, type ChildProcess } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import pg from "pg";
import { createRecoveryCoordinator, type WorkflowPersistenceProvider } from "../dist/persistence/index.js";
import { PostgresPersistenceProvider } from "../dist/persistence/postgres.js";
import { RedisPersistenceProvider } from "../dist/persistence/redis.js";
import { startPostgres } from "../test/support/postgres-server.js";
import { startRedis } from "../test/support/redis-server.js";
import { ratio, verdict } from "./measure.js";
import { pidIn, postmasterPid, serverCpuUs } from "./scale-out-server.js";
import type { BenchSection } from "./report.js";
import { rawSides, rawTable, redisPrefix, steps, workflow, type Backend, type FromWorker, type SideName, type ToWorker, type WorkerTally } from "./scale-out-protocol.js";

// Many workers on one store: N worker processes (concurrency C each) run the same instances in
// several ways in one run on a throw-away server: through the recovery coordinator (instances
// enqueued beforehand, every worker calling resumeAll until a pass runs nothing), with plain
// usePersistence (no lease, instances split between the workers), the floor, one raw upsert (one
// SET) per step, and beside it a raw write that refuses a stale revision, as a checkpoint does.
// Throughput ratios are paired within a trial; the sides' order rotates between trials.

const workers = 4;
const concurrency = 4;
// Per trial and side. Redis's raw side does 1,200 instances in about 0.2 s, too short to time
// against the others, so Redis runs four times as many.
const instancesOf: Record<Backend, number> = { postgres: 1_200, redis: 4_800 };
const trials = 3;
const warmUpPasses = 3;
const throughputTarget = 0.8;
const queriesTarget = 1.15;
// Postgres also measures the raw upsert as a named prepared statement, as the provider sends its
// checkpoints here (preparedStatements: true); the floor the target is stated against stays the
// upsert sent as text, what a hand-written worker does by default.
// SCALE_OUT_PREPARED=0 runs the provider without them, for comparing.
const preparedStatements = process.env.SCALE_OUT_PREPARED !== "0";
const sidesOf: Record<Backend, readonly SideName[]> = { postgres: ["coordinator", "plain", "raw", "raw-prepared", "raw-cas"], redis: ["coordinator", "plain", "raw", "raw-cas", "engine"] };
const sideLabels: Record<SideName, string> = {
  coordinator: "recovery coordinator (resumeAll, lease)",
  plain: "plain usePersistence (no lease)",
  raw: "raw: one upsert / SET per step",
  "raw-prepared": "raw, prepared: the upsert as a named statement",
  "raw-cas": "raw compare-and-set: one write per step refusing a stale revision",
  engine: "coordinator with no store: each worker's own memory provider",
};

/** The bench's own view of a store: what it prepares before a side and checks after it. */
interface StoreAdmin {
  readonly label: string;
  readonly backend: Backend;
  readonly url: string;
  readonly provider: WorkflowPersistenceProvider;
  /** The server's process id: its CPU time and its children's (Postgres's backends) are read from /proc. */
  readonly serverPid: number | undefined;
  /** Snapshots and raw records left in the store. */
  count(): Promise<{ snapshots: number; raw: number }>;
  reset(): Promise<unknown>;
  close(): Promise<unknown>;
}

async function postgresAdmin(url: string): Promise<StoreAdmin> {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on("error", () => undefined);
  const provider = new PostgresPersistenceProvider({ client: pool });
  await provider.migrate();
  await pool.query(`CREATE TABLE IF NOT EXISTS ${rawTable} (instance_id text PRIMARY KEY, revision integer, data text NOT NULL)`);
  const version = ((await pool.query("SHOW server_version")).rows[0] as { server_version: string }).server_version;
  const dataDirectory = ((await pool.query("SHOW data_directory")).rows[0] as { data_directory: string }).data_directory;
  const countOf = async (table: string): Promise<number> => ((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0] as { n: number }).n;
  return {
    label: `PostgreSQL ${version.split(" ")[0] ?? version}`,
    backend: "postgres",
    url,
    provider,
    serverPid: postmasterPid(dataDirectory),
    count: async () => ({ snapshots: await countOf("workflowforge_snapshots"), raw: await countOf(rawTable) }),
    reset: () => pool.query(`TRUNCATE workflowforge_snapshots, ${rawTable}`),
    close: () => pool.end(),
  };
}

async function redisAdmin(url: string): Promise<StoreAdmin> {
  const redis = new Redis(url);
  const info = await redis.info("server");
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? "unknown";
  const countOf = async (pattern: string): Promise<number> => (await redis.keys(pattern)).length;
  return {
    label: `Redis ${version}`,
    backend: "redis",
    url,
    serverPid: pidIn(() => /process_id:(\d+)/.exec(info)?.[1]),
    provider: new RedisPersistenceProvider({ client: redis, keyPrefix: redisPrefix }),
    count: async () => ({ snapshots: await countOf(`${redisPrefix}s:*`), raw: await countOf("scale-out-raw:*") }),
    reset: () => redis.flushdb(),
    close: () => redis.quit(),
  };
}

interface Worker {
  readonly child: ChildProcess;
  next(): Promise<FromWorker>;
}

function startWorker(): Worker {
  // fork passes this process's execArgv on, so under tsx the worker runs from its .ts source too.
  const child = fork(fileURLToPath(new URL("./scale-out-worker.ts", import.meta.url)), { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const queue: FromWorker[] = [];
  const waiting: Array<{ resolve: (message: FromWorker) => void; reject: (error: Error) => void }> = [];
  child.on("message", (message: FromWorker) => {
    const waiter = waiting.shift();
    if (waiter === undefined) queue.push(message);
    else waiter.resolve(message);
  });
  child.on("exit", (code) => {
    for (const waiter of waiting.splice(0)) waiter.reject(new Error(`a scale-out worker exited with code ${code}`));
  });
  const next = async (): Promise<FromWorker> => {
    const message = queue.shift() ?? (await new Promise<FromWorker>((resolve, reject) => waiting.push({ resolve, reject })));
    if (message.type === "error") throw new Error(`a scale-out worker failed: ${message.message}`);
    return message;
  };
  return { child, next };
}

const tell = (worker: Worker, message: ToWorker): void => void worker.child.send(message);

interface SideResult {
  readonly stepsPerSecond: number;
  readonly queriesPerStep: number;
  readonly cpuUsPerStep: number;
  /** The server's CPU per step (10 ms resolution over the side's run), NaN where it cannot be read. */
  readonly serverCpuUsPerStep: number;
  readonly lostClaimsPerInstance: number;
}

async function runSide(admin: StoreAdmin, pool: readonly Worker[], side: SideName, count: number, tag: string): Promise<SideResult> {
  const ids = Array.from({ length: count }, (_, i) => `${tag}-${side}-${i}`);
  if (side === "coordinator") {
    const enqueuer = createRecoveryCoordinator({ provider: admin.provider, resolveWorkflow: () => workflow });
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < ids.length) await enqueuer.enqueue(workflow, { instanceId: ids[next++] as string, properties: { n: 1 } });
    };
    await Promise.all(Array.from({ length: 8 }, lane));
    await enqueuer.close();
  }
  if (side === "engine") {
    pool.forEach((worker, w) => tell(worker, { type: "prepare", instanceIds: ids.filter((_, i) => i % pool.length === w) }));
    await Promise.all(pool.map((worker) => worker.next()));
  }
  const serverBefore = serverCpuUs(admin.serverPid);
  const started = process.hrtime.bigint();
  // The coordinator's workers claim the instances themselves, the engine's were enqueued in each
  // worker; the others get every N-th one.
  const ownInstances = side === "coordinator" || side === "engine";
  pool.forEach((worker, w) => tell(worker, { type: "run", side, instanceIds: ownInstances ? [] : ids.filter((_, i) => i % pool.length === w) }));
  const tallies = (await Promise.all(pool.map((worker) => worker.next()))) as Array<{ type: "done" } & WorkerTally>;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const serverAfter = serverCpuUs(admin.serverPid);
  const total = (key: keyof WorkerTally): number => tallies.reduce((sum, tally) => sum + tally[key], 0);
  const left = await admin.count();
  const expected = { snapshots: 0, raw: rawSides.includes(side) ? count : 0 };
  if (total("steps") !== count * steps || left.snapshots !== expected.snapshots || left.raw !== expected.raw) {
    throw new Error(`scale-out ${side} on ${admin.label}: ${total("steps")} steps done of ${count * steps}, ${left.snapshots} snapshots and ${left.raw} raw records left`);
  }
  await admin.reset();
  return { stepsPerSecond: total("steps") / seconds, queriesPerStep: total("queries") / total("steps"), cpuUsPerStep: total("cpuUs") / total("steps"),
    serverCpuUsPerStep: serverBefore === undefined || serverAfter === undefined ? Number.NaN : (serverAfter - serverBefore) / total("steps"),
    lostClaimsPerInstance: total("lostClaims") / count };
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = (sorted.length - 1) / 2;
  return ((sorted[Math.floor(middle)] ?? Number.NaN) + (sorted[Math.ceil(middle)] ?? Number.NaN)) / 2;
};

interface StoreResult {
  readonly label: string;
  readonly sides: readonly SideName[];
  readonly results: Record<SideName, SideResult[]>;
}

async function measureStore(admin: StoreAdmin): Promise<StoreResult> {
  const pool = Array.from({ length: workers }, startWorker);
  try {
    for (const worker of pool) tell(worker, { type: "init", backend: admin.backend, url: admin.url, concurrency, preparedStatements });
    await Promise.all(pool.map((worker) => worker.next()));
    const sides = sidesOf[admin.backend];
    // Untimed passes of every side at the trials' size first. The workers' code keeps getting
    // cheaper well past one pass: the coordinator's client CPU per step measured 211, 124 and 102 µs
    // in three passes on Postgres (94, 62 and 51 µs on Redis), then 91-98 µs in the trials. With one
    // pass, the first trial's coordinator was the slowest in every run.
    for (let pass = 0; pass < warmUpPasses; pass++) for (const side of sides) await runSide(admin, pool, side, instancesOf[admin.backend], `warmup${pass}`);
    const results: Record<SideName, SideResult[]> = { coordinator: [], plain: [], raw: [], "raw-prepared": [], "raw-cas": [], engine: [] };
    for (let trial = 0; trial < trials; trial++) {
      const order = sides.map((_, i) => sides[(i + trial) % sides.length] as SideName);
      for (const side of order) results[side].push(await runSide(admin, pool, side, instancesOf[admin.backend], `trial${trial}`));
    }
    return { label: admin.label, sides, results };
  } finally {
    for (const worker of pool) if (worker.child.connected) tell(worker, { type: "exit" });
    await Promise.all(pool.map((worker) => (worker.child.exitCode === null ? new Promise((resolve) => worker.child.once("exit", resolve)) : Promise.resolve())));
  }
}

const span = (values: readonly number[]): string => `${Math.round(Math.min(...values)).toLocaleString("en")}–${Math.round(Math.max(...values)).toLocaleString("en")}`;

/** `side`'s throughput over `floor`'s, trial by trial. */
const pairedOver = (results: Record<SideName, SideResult[]>, side: SideName, floor: SideName): number[] =>
  results[side].map((result, trial) => result.stepsPerSecond / (results[floor][trial]?.stepsPerSecond ?? Number.NaN));

function rowsOf({ label, sides, results }: StoreResult): Record<string, string | number>[] {
  return sides.map((side) => {
    const paired = pairedOver(results, side, "raw");
    return {
      store: label,
      side: sideLabels[side],
      "steps/s (median)": Math.round(median(results[side].map((result) => result.stepsPerSecond))),
      "steps/s (min–max)": span(results[side].map((result) => result.stepsPerSecond)),
      "× raw (min / median)": `${ratio(Math.min(...paired))} / ${ratio(median(paired))}`,
      "queries per step": Number(median(results[side].map((result) => result.queriesPerStep)).toFixed(3)),
      "client CPU µs/step": Math.round(median(results[side].map((result) => result.cpuUsPerStep))),
      "server CPU µs/step": Math.round(median(results[side].map((result) => result.serverCpuUsPerStep))),
      "lost claims per instance": side === "coordinator" ? Number(median(results[side].map((result) => result.lostClaimsPerInstance)).toFixed(2)) : "",
    };
  });
}

function targetNotes({ label, results }: StoreResult, backend: Backend): string[] {
  const paired = pairedOver(results, "coordinator", "raw");
  const overCas = pairedOver(results, "coordinator", "raw-cas");
  const plainOverCas = pairedOver(results, "plain", "raw-cas");
  const notes = [
    `Target (${label}): coordinator throughput at least ${throughputTarget}× the raw side's in the same trial, median of ${trials}: ${verdict(median(paired) >= throughputTarget)} (median ${ratio(median(paired))}, min ${ratio(Math.min(...paired))}).`,
    `${label}, coordinator over the raw side trial by trial, in the order run: ${paired.map(ratio).join(", ")}.`,
    `${label}, against the raw compare-and-set side (not a target): coordinator median ${ratio(median(overCas))} (min ${ratio(Math.min(...overCas))}), plain usePersistence median ${ratio(median(plainOverCas))}.`,
  ];
  if (results.engine.length > 0) {
    // Both sides share the same two cores: the engine's CPU per step and the raw compare-and-set's
    // add up, so their throughputs combine as 1 / (1 / a + 1 / b). An estimate for one
    // compare-and-set per step; a worker's group commit sends fewer, each carrying several.
    const bound = results.engine.map((engine, trial) => 1 / (1 / engine.stepsPerSecond + 1 / (results["raw-cas"][trial]?.stepsPerSecond ?? Number.NaN)));
    const boundOverRaw = bound.map((value, trial) => value / (results.raw[trial]?.stepsPerSecond ?? Number.NaN));
    notes.push(
      `${label}, the coordinator with no store at all (each worker's own memory provider, not a target): median ${ratio(median(pairedOver(results, "engine", "raw")))} of the raw side. ` +
        `Its work per step plus the raw compare-and-set side's puts a coordinator making one compare-and-set per step at about ${ratio(median(boundOverRaw))} of the raw side (1 / (1 / engine + 1 / raw compare-and-set) over raw, trial by trial, median), against the ${ratio(median(paired))} measured with its writes grouped.`,
    );
  }
  if (backend === "postgres") {
    const perStep = results.coordinator.map((result) => result.queriesPerStep);
    notes.push(`Target (${label}): coordinator at most ${queriesTarget} statements per step, claim, checkpoints, delete and listing included: ${verdict(Math.max(...perStep) <= queriesTarget)} (${perStep.map((value) => value.toFixed(3)).join(", ")}).`);
  }
  return notes;
}

export async function run(): Promise<BenchSection> {
  const title = `Scale-out: ${workers} worker processes through the recovery coordinator vs raw writes`;
  const began = Date.now();
  const loadBefore = loadavg()[0] ?? Number.NaN;
  const rows: Record<string, string | number>[] = [];
  const notes: string[] = [];
  // SCALE_OUT_STORES=postgres (or redis) measures one store only, for working on it.
  const only = process.env.SCALE_OUT_STORES?.split(",");
  for (const [backend, start, connect] of [
    ["postgres", startPostgres, postgresAdmin],
    ["redis", startRedis, redisAdmin],
  ] as const) {
    if (only !== undefined && !only.includes(backend)) continue;
    const server = await start();
    if ("skipped" in server) {
      notes.push(`${backend} not measured: ${server.skipped}.`);
      continue;
    }
    try {
      const admin = await connect(server.url);
      try {
        const result = await measureStore(admin);
        rows.push(...rowsOf(result));
        notes.push(...targetNotes(result, backend));
      } finally {
        await admin.close();
      }
    } finally {
      await server.stop();
    }
  }
  notes.push(
    `Each trial: ${instancesOf.postgres.toLocaleString("en")} (Redis: ${instancesOf.redis.toLocaleString("en")}, as its raw side would otherwise finish in about 0.2 s) ${steps}-step workflows of no-op operations per side, spread over ${workers} worker processes with concurrency ${concurrency} each (a pg Pool of ${concurrency} connections, or one ioredis connection, per process), on a throw-away server on 127.0.0.1 (Postgres with fsync and synchronous_commit on). ${trials} trials after ${warmUpPasses} untimed warm-up passes of every side at the same size; the sides' order rotates between trials, and each ratio compares sides of the same trial.`,
    `Postgres: the coordinator and plain sides run the provider with \`preparedStatements: ${String(preparedStatements)}\`${preparedStatements ? "" : " (SCALE_OUT_PREPARED=0)"} (with true, its checkpoints, loads and deletes as named statements, each parsed once per connection); the raw side sends its upsert as text, the floor the target is stated against, and \`raw, prepared\` the same upsert as a named statement. The provider groups the checkpoints (and deletes) that a worker's runs reach while one of its statements is in flight into one statement, each with its own compare-and-set (group commit), so the coordinator and plain sides send fewer statements than steps; every raw side sends one statement per step, as the floor is defined. The Redis provider groups its saves and deletes the same way, as one script.`,
    "coordinator: the instances are enqueued beforehand (not timed); every worker runs `resumeAll()` until a pass resumes nothing, as the README runs it: each pass claims pages of `concurrency` claimable instances in one call (Postgres: `UPDATE ... FOR UPDATE SKIP LOCKED`; Redis: one script over the sorted set of unfinished records) until a page comes back empty, and each run adopts its claim without writing one. plain: `usePersistence` without a lease, each worker running its share of fresh instances (one load, ten checkpoints, one delete each). raw: each worker writes its share with one `INSERT ... ON CONFLICT DO UPDATE` (Redis: one `SET`) of the record as JSON per step, and nothing else. raw compare-and-set: the same record per step, written only over the revision before it, as a checkpoint is (Postgres: `INSERT ... ON CONFLICT DO NOTHING` for revision 1, then `UPDATE ... WHERE revision = n - 1`, sent as text; Redis: one EVALSHA of a script comparing a hash's revision before setting it); a refused write stops the bench. None of the raw sides loads first or deletes at the end, which a checkpointing run does. coordinator with no store (Redis only): each worker enqueues its share into its own `MemoryPersistenceProvider` beforehand (not timed), then runs `resumeAll()` as the coordinator side does, so the server is not involved: what the engine, the lease and the codec cost with a store that costs nothing.",
    "steps/s: all workers' steps over the wall time from sending the work to the last worker's answer. Queries per step: every statement (Redis: command) the workers' clients sent, counted by wrapping the client in each worker (listing, claims lost to another worker, checkpoints, loads and deletes included; the enqueueing is not). Client CPU: user + system time of the worker processes per step; server CPU: the server process's and its children's (Postgres's backends), from /proc, per step. Lost claims: instances a worker tried to claim after another worker had (each would cost one refused compare-and-set; claiming in pages loses none).",
    `Load average (1 min) ${loadBefore.toFixed(2)} at the start, ${(loadavg()[0] ?? Number.NaN).toFixed(2)} at the end; the section took ${Math.round((Date.now() - began) / 1000)} s.`,
  );
  return { title, rows, notes };
}
