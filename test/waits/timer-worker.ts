// One worker of the timer tests: opens the store (TIMER_STORE "sqlite" or "postgres", TIMER_URL), starts a coordinator
// that wakes what is due every TIMER_POLL_MS, prints "ready", and runs until it is killed or its
// stdin closes (then it closes the coordinator and exits).
import { once } from "node:events";
import { createRecoveryCoordinator } from "../../src/persistence/index.js";
import Database from "better-sqlite3";
import pg from "pg";
import { PostgresPersistenceProvider } from "../../src/persistence/providers/postgres.js";
import { SqlitePersistenceProvider } from "../../src/persistence/providers/sqlite.js";
import { timerWorkflow } from "./timer-workflow.js";

const env = process.env;
const workflow = timerWorkflow(env.TIMER_LOG ?? "");
const concurrency = Number(env.TIMER_CONCURRENCY ?? (env.TIMER_STORE === "postgres" ? 8 : 32));
// One connection per run at once (plus the claim's), so that runs never queue for the pool.
const pool = env.TIMER_STORE === "postgres" ? new pg.Pool({ connectionString: env.TIMER_URL, max: concurrency + 1 }) : undefined;
const database = pool === undefined ? new Database(env.TIMER_URL ?? "") : undefined;
const provider = pool === undefined ? new SqlitePersistenceProvider({ database: database as Database.Database }) : new PostgresPersistenceProvider({ client: pool });
const close = async () => (pool === undefined ? database?.close() : pool.end());
const coordinator = createRecoveryCoordinator({
  provider,
  resolveWorkflow: (snapshot) => (snapshot.workflowName === workflow.name ? workflow : undefined),
  owner: `timer-worker-${process.pid}`,
  concurrency,
  leaseTtlMs: 10_000,
});
coordinator.start({ pollIntervalMs: Number(env.TIMER_POLL_MS ?? 100), onError: (error) => process.stderr.write(`${String(error)}\n`) });
process.stdout.write("ready\n");
process.stdin.resume();
await once(process.stdin, "end");
await coordinator.close();
await close();
