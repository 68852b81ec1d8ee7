import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createRecoveryCoordinator, type WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { listSnapshots } from "../../../src/persistence/recovery/list.js";
import { describeWithServer } from "../../support/describe-with-server.js";
import { oneStepWorkflow } from "./one-step-workflow.js";
import { workerTestSetup } from "./real-servers.js";
import { openStore, type StoreKind } from "./stores.js";
import { readRuns, verifyRuns, verifyStored } from "./verify-runs.js";
import { scaled } from "../../support/thorough.js";

// The fast variant of the many-workers test: WORKERS processes start resumeAll together over
// INSTANCES enqueued one-step workflows and nobody is killed. Every worker lists the same instances
// and races the others for each, so a worker often reaches an instance another one has just
// finished; it must leave it alone. No kill means no at-least-once excuse: each instance runs
// exactly once, with the properties it was enqueued with, and its record survives.
const WORKERS = 4;
// 30 in a local npm test, which must stay within its budget on two cores; 400 in .ci/run.
const INSTANCES = scaled("WORKFLOWFORGE_FAST_WORKER_INSTANCES", 30, 400);
// Nobody dies, so no lease ever has to run out; a long one keeps a slow machine from expiring it.
const LEASE_MS = 30_000;

const { child, root, cleanup, servers } = await workerTestSetup("workers-fast");

/** Starts every worker, lets them all begin once each has opened the store, and waits for their exit codes. */
async function runWorkers(kind: StoreKind, url: string, logFile: string, onComplete: "keep" | "delete"): Promise<(number | null)[]> {
  const workers = Array.from({ length: WORKERS }, (_, slot) => {
    const worker = spawn(process.execPath, [child], {
      env: {
        ...process.env,
        WORKER_WORKFLOW: "one-step",
        WORKER_GATE: "stdin",
        WORKER_STORE: kind,
        WORKER_URL: url,
        WORKER_LOG: logFile,
        WORKER_OWNER: `w${slot}`,
        WORKER_LEASE_MS: String(LEASE_MS),
        WORKER_CONCURRENCY: "4",
        WORKER_ON_COMPLETE: onComplete,
        WORKER_ATTEMPTS: "3",
        // A worker scheduled first cannot take every instance before the others start: they share the work.
        WORKER_TOGETHER: "2",
      },
      stdio: ["pipe", "pipe", "inherit"],
    });
    const exited = once(worker, "exit").then(([code]) => code as number | null);
    const ready = once(worker.stdout, "data");
    return { worker, exited, ready };
  });
  await Promise.all(workers.map(({ ready, exited }) => Promise.race([ready, exited])));
  for (const { worker } of workers) worker.stdin.end();
  return Promise.all(workers.map(({ exited }) => exited));
}

async function enqueueAll(provider: WorkflowPersistenceProvider, prefix: string): Promise<string[]> {
  const workflow = oneStepWorkflow({ logFile: "", owner: "enqueuer" });
  const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow });
  const ids = Array.from({ length: INSTANCES }, (_, i) => `${prefix}-${i}`);
  for (const instanceId of ids) await coordinator.enqueue(workflow, { instanceId, properties: { instance: instanceId } });
  return ids;
}

function fastSuite(kind: StoreKind, url: string): void {
  for (const onComplete of ["keep", "delete"] as const) {
    it(`${WORKERS} workers run each of ${INSTANCES} one-step workflows once, from its enqueued properties, and never again after it completed (onComplete "${onComplete}")`, async () => {
      const prefix = `${kind}-${onComplete}`;
      const logFile = join(root, `${prefix}.log`);
      writeFileSync(logFile, "");
      const { provider, close } = await openStore(kind, url);
      cleanup.push(close);
      const instances = await enqueueAll(provider, prefix);

      const exitCodes = await runWorkers(kind, url, logFile, onComplete);

      const log = readRuns(readFileSync(logFile, "utf8"));
      const stored = (await listSnapshots(provider, {}, undefined)).filter((snapshot) => snapshot.foundryExecutionId.startsWith(`${prefix}-`));
      const executions = [...log.runs.values()].reduce((sum, runs) => sum + runs.length, 0);
      const lost = verifyStored(stored, instances, onComplete);
      console.info(`${prefix}: ${executions} executions for ${INSTANCES} instances, ${log.failed.length} failed outcomes, ${lost.length} records wrong or lost, skipped ${JSON.stringify(Object.fromEntries(log.skipped))}`);
      // Exactly once, from the enqueued properties, reported resumed once, and no record lost.
      const violations = [...verifyRuns(log, instances), ...lost];
      expect(violations, `${violations.length} violations`).toEqual([]);
      expect(exitCodes, "worker exit codes").toEqual(Array.from({ length: WORKERS }, () => 0));
      // The workers did compete: they shared the work, or (without claim()) some found an
      // instance another one held or had finished.
      const owners = new Set([...log.runs.values()].flatMap((runs) => runs.map((run) => run.owner)));
      const contended = (log.skipped.get("claimed") ?? 0) + (log.skipped.get("completed") ?? 0) + (log.skipped.get("absent") ?? 0);
      if (provider.capabilities?.claim === true) expect(owners.size, "workers that ran an instance").toBeGreaterThan(1);
      else expect(contended).toBeGreaterThan(0);
    }, 60_000);
  }
}

for (const kind of ["postgres", "redis"] as const) {
  describeWithServer(`${kind}: many workers racing through one-step workflows`, servers[kind], (server) => fastSuite(kind, server.url));
}
describe("sqlite: many workers racing through one-step workflows", () => fastSuite("sqlite", join(root, "fast.db")));
