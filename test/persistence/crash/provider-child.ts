// One process of providers.crash.test.ts: resumes (or starts) one instance of the crash workload
// on the provider named by CRASH_PROVIDER, then closes its client and exits. Each driver is
// imported only by its own case: the harness starts hundreds of these, and start-up is most of each.
import { FilePersistenceProvider } from "../../../src/persistence/providers/file/index.js";
import { PostgresPersistenceProvider } from "../../../src/persistence/providers/postgres.js";
import { RedisPersistenceProvider } from "../../../src/persistence/providers/redis.js";
import { SqlitePersistenceProvider } from "../../../src/persistence/providers/sqlite.js";
import { runCrashWorkload } from "../../../src/persistence/testing/crash-workload.js";
import type { WorkflowPersistenceProvider } from "../../../src/persistence/index.js";

const { CRASH_PROVIDER, CRASH_TARGET = "", CRASH_LOG = "", CRASH_STEP_DELAY_MS } = process.env;
const instanceId = process.argv[2] ?? "";

async function open(): Promise<{ provider: WorkflowPersistenceProvider; close: () => Promise<unknown> | void }> {
  switch (CRASH_PROVIDER ?? "") {
    case "file":
      // A child killed while holding an instance's lock leaves it; the next child breaks it once its
      // owner is dead and it is older than staleLockMs. The default (5 s) would only make it wait.
      return { provider: new FilePersistenceProvider({ directory: CRASH_TARGET, durability: "fsync", staleLockMs: 50 }), close: () => undefined };
    case "sqlite": {
      const { default: Database } = await import("better-sqlite3");
      // Four children share the file and are killed mid-write. With two test suites running at
      // once, a child waited past better-sqlite3's default busy timeout (5 s) for its first read
      // and exited with SQLITE_BUSY: the machine's load, not a lost or unreadable record. The
      // harness gives an attempt 30 s; a lock held past 20 s still fails the run.
      const database = new Database(CRASH_TARGET, { timeout: 20_000 });
      return { provider: new SqlitePersistenceProvider({ database }), close: () => {
        database.close();
      } };
    }
    case "postgres": {
      const { default: pg } = await import("pg");
      // The attempt before was killed, at times while a save of it was on the server: its backend
      // still commits that save, and once CI loaded the machine it did so after this attempt had
      // loaded the revision before, so this run's next save was refused. Each attempt names its
      // connection after the instance, and waits until the backend of the one before has ended (it
      // does once it finds its client's socket closed): its save has committed or rolled back by then.
      const applicationName = `crash-${instanceId}`;
      const client = new pg.Client({ connectionString: CRASH_TARGET, application_name: applicationName });
      await client.connect();
      const others = "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()";
      while (((await client.query(others, [applicationName])).rows[0] as { n: number }).n > 0) await new Promise((resolve) => setTimeout(resolve, 5));
      return { provider: new PostgresPersistenceProvider({ client }), close: () => client.end() };
    }
    case "redis": {
      const { Redis } = await import("ioredis");
      const client = new Redis(CRASH_TARGET);
      return { provider: new RedisPersistenceProvider({ client }), close: () => client.quit() };
    }
    case "forgetful":
      // Stores nothing, so every restart begins again: the harness must report it.
      return { provider: { save: () => undefined, tryLoad: () => undefined, delete: () => undefined }, close: () => undefined };
    default:
      throw new Error(`unknown CRASH_PROVIDER ${String(CRASH_PROVIDER)}`);
  }
}

const { provider, close } = await open();
await runCrashWorkload({ provider, instanceId, logFile: CRASH_LOG, ...(CRASH_STEP_DELAY_MS === undefined ? {} : { stepDelayMs: Number(CRASH_STEP_DELAY_MS) }) });
await close();
