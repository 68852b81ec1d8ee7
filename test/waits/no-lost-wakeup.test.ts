import { describe, expect, it } from "vitest";
import { MemoryPersistenceProvider, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { SqlitePersistenceProvider } from "../../src/persistence/providers/sqlite.js";
import { useFileStore } from "../support/file-store.js";
import { useSqliteFiles } from "../support/sqlite-files.js";
import { runWakeupTrials, trialSeed, violations } from "./wakeup-trials.js";
import { scaled } from "../support/thorough.js";

// Issue 16, acceptance 1 on the stores without a server (and on memory): 1,000 approval runs per store (300 in a local npm test), each sent
// its event before, during or after the run reaches its wait (see wakeup-trials.ts). Replay a
// failure with WORKFLOWFORGE_SEED=<the seed in the test's name>.

const trials = scaled("WORKFLOWFORGE_WAKEUP_TRIALS", 300, 1_000);

async function expectNoLostWakeup(provider: WorkflowPersistenceProvider, sender: WorkflowPersistenceProvider, seed: number, parallel?: number): Promise<void> {
  const results = await runWakeupTrials({ provider, sender, trials, seed, ...(parallel === undefined ? {} : { parallel }) });
  expect(violations(results), `seed ${seed}`).toEqual([]);
  expect([...results.charged.values()].flat()).toHaveLength(trials);
  // Every moment came up, and both endings: completed in the run's own process, and suspended.
  expect(new Set(results.moments.values()).size).toBe(7);
  expect(new Set(results.forged.values())).toEqual(new Set(["completed", "suspended"]));
}

describe("no lost wake-up: memory", () => {
  const seed = trialSeed();

  it(`every event sent before, during or after the wait is consumed once and every run completes (seed ${seed})`, async () => {
    // One process's store: the events are sent through the same provider object.
    const provider = new MemoryPersistenceProvider();
    await expectNoLostWakeup(provider, provider, seed);
  }, 60_000);
});

describe("no lost wake-up: SQLite", () => {
  const files = useSqliteFiles("wakeup-sqlite");
  const seed = trialSeed();

  it(`every event sent before, during or after the wait is consumed once and every run completes (seed ${seed})`, async () => {
    const provider = new SqlitePersistenceProvider({ database: files.open() });
    await provider.migrate();
    // A second connection to the database file, as another process sending the events has.
    const sender = new SqlitePersistenceProvider({ database: files.open() });
    await expectNoLostWakeup(provider, sender, seed);
  }, 60_000);
});

describe("no lost wake-up: file provider", () => {
  const store = useFileStore("wakeup-file");
  const seed = trialSeed();

  it(`every event sent before, during or after the wait is consumed once and every run completes (seed ${seed})`, async () => {
    // Fewer runs at once: writers of one record queue on its lock file, with a backoff.
    await expectNoLostWakeup(store.provider(), store.provider(), seed, 16);
  }, 60_000);
});
