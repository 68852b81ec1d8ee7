// One process of crash-harness-checks.test.ts: the crash workload on the file provider, flawed as
// CRASH_FLAW says: "keeps" resolves delete() without deleting anything; "hangs" never starts the run.
// Two more hang in their first delete(), so that the harness's kill lands during the deletion:
// "deletes-then-hangs" after deleting (the next start begins a new run, as it should), and
// "reverts" before deleting, its next start finding the checkpoint of step 10, as a store that
// lost every later acknowledged checkpoint would.
import { existsSync, writeFileSync } from "node:fs";
import { FilePersistenceProvider } from "../../../src/persistence/providers/file/index.js";
import type { WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { runCrashWorkload } from "../../../src/persistence/testing/crash-workload.js";

const { CRASH_FLAW, CRASH_DIR = "", CRASH_LOG = "" } = process.env;
const instanceId = process.argv[2] ?? "";

// Waits forever on something that keeps the process alive, as on a lock no one releases.
const hang = (): Promise<never> => {
  setInterval(() => undefined, 1_000);
  return new Promise<never>(() => undefined);
};

function hangingInFirstDelete(): WorkflowPersistenceProvider {
  const file = new FilePersistenceProvider({ directory: CRASH_DIR });
  // Checkpoints up to step 10, kept aside: the store a "reverts" child finds after its hang.
  const stale = new FilePersistenceProvider({ directory: `${CRASH_DIR}-stale` });
  const hungOnce = `${CRASH_DIR}-${instanceId}.hung`;
  if (existsSync(hungOnce)) return CRASH_FLAW === "reverts" ? stale : file;
  return {
    capabilities: { compareAndSet: true },
    save: async (snapshot, signal) => {
      await file.save(snapshot, signal);
      if (snapshot.nextOperationIndex <= 10) await stale.save(snapshot, signal);
    },
    tryLoad: (instance, workflow, signal) => file.tryLoad(instance, workflow, signal),
    delete: async (instance, workflow, signal) => {
      if (CRASH_FLAW === "deletes-then-hangs") await file.delete(instance, workflow, signal);
      writeFileSync(hungOnce, "");
      return hang();
    },
  };
}

function fileProvider(): WorkflowPersistenceProvider {
  const file = new FilePersistenceProvider({ directory: CRASH_DIR });
  return {
    capabilities: { compareAndSet: true },
    save: (snapshot, signal) => file.save(snapshot, signal),
    tryLoad: (instance, workflow, signal) => file.tryLoad(instance, workflow, signal),
    delete: (instance, workflow, signal) => (CRASH_FLAW === "keeps" ? Promise.resolve() : file.delete(instance, workflow, signal)),
  };
}

if (CRASH_FLAW === "hangs") await hang();
else {
  const provider = CRASH_FLAW === "reverts" || CRASH_FLAW === "deletes-then-hangs" ? hangingInFirstDelete() : fileProvider();
  await runCrashWorkload({ provider, instanceId, logFile: CRASH_LOG, stepDelayMs: 0 });
}
