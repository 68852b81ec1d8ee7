import { Redis } from "ioredis";
import pg from "pg";
import { createFoundry, createSmith } from "../dist/index.js";
import { MemoryPersistenceProvider, createRecoveryCoordinator, usePersistence, type RecoveryCoordinator, type WorkflowPersistenceProvider } from "../dist/persistence/index.js";
import { PostgresPersistenceProvider, type PostgresPreparingClient, type PostgresQueryConfig } from "../dist/persistence/postgres.js";
import { RedisPersistenceProvider, type IoRedisLikeClient } from "../dist/persistence/redis.js";
import { rawCasInsert, rawCasScript, rawCasUpdate, rawRecord, rawRedisKey, rawUpsert, redisPrefix, steps, workflow, type FromWorker, type SideName, type ToWorker, type WorkerTally } from "./scale-out-protocol.js";

// One worker process of the scale-out bench, driven over IPC by bench/scale-out.ts: it connects once,
// then runs one side at a time on the instances it is given (the coordinator lists its own) and
// reports its steps, the statements or commands its client sent, and its CPU time.

interface Store {
  readonly provider: WorkflowPersistenceProvider;
  /** The raw floor: one upsert (Postgres) or one SET (Redis) of `text`; `prepared`: the upsert as a named statement. */
  readonly rawWrite: (instanceId: string, text: string, prepared: boolean) => Promise<unknown>;
  /** raw-cas: writes revision `revision` of the record over revision - 1, resolving whether it did. */
  readonly casWrite: (instanceId: string, revision: number, text: string) => Promise<boolean>;
  close(): Promise<void>;
}

// Every statement or command goes through the wrapped client, so the count is exact and per worker.
let queries = 0;
let lostClaims = 0;

function connect(message: Extract<ToWorker, { type: "init" }>): Store {
  if (message.backend === "postgres") {
    const pool = new pg.Pool({ connectionString: message.url, max: message.concurrency });
    // An idle connection the server drops is not this bench's failure; a query on it would be.
    pool.on("error", () => undefined);
    const client = {
      query: (textOrConfig: string | PostgresQueryConfig, values?: unknown[]) => {
        queries++;
        return typeof textOrConfig === "string" ? pool.query(textOrConfig, values) : pool.query(textOrConfig);
      },
    } as PostgresPreparingClient;
    return {
      provider: message.preparedStatements ? new PostgresPersistenceProvider({ client, preparedStatements: true }) : new PostgresPersistenceProvider({ client }),
      rawWrite: (id, text, prepared) => (prepared ? client.query({ name: "scale_out_raw_upsert", text: rawUpsert, values: [id, text] }) : client.query(rawUpsert, [id, text])),
      casWrite: async (id, revision, text) => (await (revision === 1 ? client.query(rawCasInsert, [id, text]) : client.query(rawCasUpdate, [id, text, revision]))).rowCount === 1,
      close: () => pool.end(),
    };
  }
  const redis = new Redis(message.url);
  // Loaded on first use; its EVALSHA is what each raw-cas step sends.
  let casSha: Promise<string> | undefined;
  const client: IoRedisLikeClient = {
    call: (command, ...args) => {
      queries++;
      return redis.call(command, ...args);
    },
  };
  return {
    provider: new RedisPersistenceProvider({ client, keyPrefix: redisPrefix }),
    rawWrite: (id, text) => client.call("SET", rawRedisKey(id), text),
    casWrite: async (id, revision, text) => {
      casSha ??= redis.script("LOAD", rawCasScript) as Promise<string>;
      return (await client.call("EVALSHA", await casSha, "1", rawRedisKey(id), String(revision), text)) === 1;
    },
    close: async () => void (await redis.quit()),
  };
}

/** Runs `task` over `items`, `lanes` at a time. */
async function inLanes<T>(items: readonly T[], lanes: number, task: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await task(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(lanes, items.length) }, lane));
}

const smith = createSmith();

// As the README runs it: resumeAll again until a pass finds nothing left to run here.
async function resumeUntilDone(coordinator: RecoveryCoordinator): Promise<number> {
  let resumed = 0;
  for (;;) {
    const report = await coordinator.resumeAll();
    const failure = report.failed[0];
    if (failure !== undefined) throw failure.error;
    lostClaims += report.skipped.filter((skipped) => skipped.reason === "claimed").length;
    if (report.resumed.length === 0) return resumed * steps;
    resumed += report.resumed.length;
  }
}

// The engine side's store: this process's own, so no server and no other worker is involved.
const engineProvider = new MemoryPersistenceProvider();
let engine: RecoveryCoordinator | undefined;

async function runSide(store: Store, coordinator: RecoveryCoordinator, concurrency: number, side: SideName, instanceIds: readonly string[]): Promise<number> {
  switch (side) {
    case "raw":
    case "raw-prepared":
      await inLanes(instanceIds, concurrency, async (id) => {
        const createdAt = new Date().toISOString();
        for (let step = 0; step < steps; step++) await store.rawWrite(id, rawRecord(id, step, createdAt), side === "raw-prepared");
      });
      return instanceIds.length * steps;
    case "raw-cas":
      await inLanes(instanceIds, concurrency, async (id) => {
        const createdAt = new Date().toISOString();
        for (let step = 0; step < steps; step++) {
          if (!(await store.casWrite(id, step + 1, rawRecord(id, step, createdAt)))) throw new Error(`raw-cas: revision ${step + 1} of ${id} was refused`);
        }
      });
      return instanceIds.length * steps;
    case "plain":
      await inLanes(instanceIds, concurrency, async (id) => {
        const foundry = usePersistence(createFoundry(workflow.name, { executionId: id, properties: { n: 1 } }), store.provider, { instanceId: id, workflowKey: workflow.id });
        await smith.forge(workflow, foundry, { input: 0 });
      });
      return instanceIds.length * steps;
    case "coordinator":
      return resumeUntilDone(coordinator);
    case "engine": {
      if (engine === undefined) throw new Error("run before init");
      const done = await resumeUntilDone(engine);
      const left = await engineProvider.list();
      if (left.length > 0) throw new Error(`engine: ${left.length} records left in the worker's memory provider`);
      return done;
    }
  }
}

let store: Store | undefined;
let coordinator: RecoveryCoordinator | undefined;
let concurrency = 4;
const send = (message: FromWorker): void => void process.send?.(message);

process.on("message", (message: ToWorker) => {
  void handle(message).catch((error: unknown) => send({ type: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
});

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case "init":
      store = connect(message);
      concurrency = message.concurrency;
      coordinator = createRecoveryCoordinator({ provider: store.provider, resolveWorkflow: () => workflow, concurrency });
      engine = createRecoveryCoordinator({ provider: engineProvider, resolveWorkflow: () => workflow, concurrency });
      send({ type: "ready" });
      return;
    case "prepare": {
      const enqueuer = engine;
      if (enqueuer === undefined) throw new Error("prepare before init");
      await inLanes(message.instanceIds, concurrency, (id) => enqueuer.enqueue(workflow, { instanceId: id, properties: { n: 1 } }));
      send({ type: "ready" });
      return;
    }
    case "run": {
      if (store === undefined || coordinator === undefined) throw new Error("run before init");
      queries = 0;
      lostClaims = 0;
      const cpu = process.cpuUsage();
      const done = await runSide(store, coordinator, concurrency, message.side, message.instanceIds);
      const used = process.cpuUsage(cpu);
      const tally: WorkerTally = { steps: done, queries, cpuUs: used.user + used.system, lostClaims };
      send({ type: "done", ...tally });
      return;
    }
    case "exit":
      await coordinator?.close();
      await engine?.close();
      await store?.close();
      process.disconnect();
      return;
  }
}
