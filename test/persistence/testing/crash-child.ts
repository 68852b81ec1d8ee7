// One process of crash-harness-checks.test.ts: the crash workload on the file provider, flawed as
// CRASH_FLAW says: "keeps" resolves delete() without deleting anything; "hangs" never starts the run.
import { FilePersistenceProvider } from "../../../src/persistence/providers/file/index.js";
import type { WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { runCrashWorkload } from "../../../src/persistence/testing/crash-workload.js";

const { CRASH_FLAW, CRASH_DIR = "", CRASH_LOG = "" } = process.env;
const instanceId = process.argv[2] ?? "";

if (CRASH_FLAW === "hangs") {
  // Waits forever on something that keeps the process alive, as on a lock no one releases.
  setInterval(() => undefined, 1_000);
} else {
  const file = new FilePersistenceProvider({ directory: CRASH_DIR });
  const provider: WorkflowPersistenceProvider = {
    capabilities: file.capabilities,
    save: (snapshot, signal) => file.save(snapshot, signal),
    tryLoad: (instance, workflow, signal) => file.tryLoad(instance, workflow, signal),
    delete: (instance, workflow, signal) => (CRASH_FLAW === "keeps" ? Promise.resolve() : file.delete(instance, workflow, signal)),
  };
  await runCrashWorkload({ provider, instanceId, logFile: CRASH_LOG, stepDelayMs: 0 });
}
