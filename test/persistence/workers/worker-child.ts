// One worker process of the many-workers tests. WORKER_MODE "loop": run resumeAll until nothing is
// left unfinished (and, when WORKER_RELEASE names a file, that file exists). WORKER_MODE "one": resume WORKER_INSTANCE once and print the outcome as JSON.
import { appendFileSync, existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { createRecoveryCoordinator } from "../../../src/persistence/index.js";
import { listSnapshots } from "../../../src/persistence/recovery/list.js";
import { batchWorkflow } from "./batch-workflow.js";
import { openStore, type StoreKind } from "./stores.js";

const env = process.env;
const owner = env.WORKER_OWNER ?? `worker-${process.pid}`;
const logFile = env.WORKER_LOG ?? "";
const stepMs = Number(env.WORKER_STEP_MS ?? 10);
const workflow = batchWorkflow({ logFile, owner, stepMs: () => stepMs * (0.5 + Math.random()) });
const { provider, close } = await openStore(env.WORKER_STORE as StoreKind, env.WORKER_URL ?? "");
const coordinator = createRecoveryCoordinator({
  provider,
  resolveWorkflow: (snapshot) => (snapshot.workflowName === workflow.name && snapshot.workflowVersion === workflow.version ? workflow : undefined),
  owner,
  leaseTtlMs: Number(env.WORKER_LEASE_MS ?? 2_000),
  concurrency: 2,
  onComplete: "keep",
  retry: { attempts: 1_000, baseDelayMs: 5, maxDelayMs: 50 },
});

async function unfinished(): Promise<number> {
  return (await listSnapshots(provider, { status: ["running", "failed", "compensating"] }, undefined)).length;
}

if (env.WORKER_MODE === "one") {
  const outcome = await coordinator.resume(env.WORKER_INSTANCE ?? "", workflow.id);
  const error = outcome.status === "failed" ? { name: outcome.error.name, message: outcome.error.message } : undefined;
  process.stdout.write(`${JSON.stringify({ ...outcome, error })}\n`);
} else {
  for (;;) {
    const report = await coordinator.resumeAll();
    // A failure is a violation the parent looks for; nothing is swallowed.
    for (const failed of report.failed) appendFileSync(logFile, `F ${failed.instanceId} ${owner} ${failed.error.name}: ${failed.error.message.replaceAll("\n", " ")}\n`);
    // With WORKER_RELEASE, the test decides when workers may leave (after its last kill).
    if ((await unfinished()) === 0 && (env.WORKER_RELEASE === undefined || existsSync(env.WORKER_RELEASE))) break;
    await sleep(20);
  }
}
await close();
