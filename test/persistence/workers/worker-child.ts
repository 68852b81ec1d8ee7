// One worker process of the many-workers tests. WORKER_MODE "loop": run resumeAll until nothing is
// left unfinished but dead letters (and, when WORKER_RELEASE names a file, that file exists).
// WORKER_MODE "one": resume WORKER_INSTANCE once and print the outcome as JSON.
// WORKER_WORKFLOW "one-step" runs the one-step workflow instead of the batch (WORKER_TOGETHER n: its
// executions complete only once n workers have started one); WORKER_GATE "stdin"
// prints "ready" once the store is open and starts only when the parent closes its stdin.
// WORKER_HOLD_AT_STEP n: the first batch step n this worker starts never ends; the worker prints
// "held <instance>" so that the parent can kill it there, mid-instance. WORKER_STOP_AT_STEP n: the
// first batch step n this worker starts stops the process (SIGSTOP) right after logging its start.
import { once } from "node:events";
import { appendFileSync, existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { createFoundry } from "../../../src/index.js";
import { createRecoveryCoordinator, type RecoveryReport } from "../../../src/persistence/index.js";
import { isDeadLetter } from "../../../src/persistence/recovery/dead-letter.js";
import { listSnapshots } from "../../../src/persistence/recovery/list.js";
import { batchWorkflow } from "./batch-workflow.js";
import { oneStepWorkflow } from "./one-step-workflow.js";
import { openStore, type StoreKind } from "./stores.js";

const env = process.env;
const owner = env.WORKER_OWNER ?? `worker-${process.pid}`;
const logFile = env.WORKER_LOG ?? "";
const stepMs = Number(env.WORKER_STEP_MS ?? 10);
const attempts = Number(env.WORKER_ATTEMPTS ?? 1_000);
const holdAtStep = env.WORKER_HOLD_AT_STEP === undefined ? undefined : Number(env.WORKER_HOLD_AT_STEP);
const stopAtStep = env.WORKER_STOP_AT_STEP === undefined ? undefined : Number(env.WORKER_STOP_AT_STEP);
let held = false;
let stopped = false;
function atStepStart(instance: string, index: number): Promise<void> | undefined {
  if (!stopped && index === stopAtStep) {
    stopped = true;
    // Takes effect before kill() returns: the step is suspended exactly here until SIGCONT.
    process.kill(process.pid, "SIGSTOP");
  }
  if (held || index !== holdAtStep) return undefined;
  held = true;
  process.stdout.write(`held ${instance}\n`);
  return new Promise<void>(() => undefined);
}
const workflow =
  env.WORKER_WORKFLOW === "one-step" ? oneStepWorkflow({ logFile, owner, together: Number(env.WORKER_TOGETHER ?? 1) }) : batchWorkflow({ logFile, owner, stepMs: () => stepMs * (0.5 + Math.random()), started: atStepStart });
const { provider, close } = await openStore(env.WORKER_STORE as StoreKind, env.WORKER_URL ?? "");
const coordinator = createRecoveryCoordinator({
  provider,
  // Each checkpoint is logged once it landed ("C <instance> <next operation> <owner> <time>"): a
  // step run again after it was checkpointed is a violation, whoever was killed later.
  createFoundry: (snapshot) => {
    const foundry = createFoundry(snapshot.workflowName, { executionId: snapshot.foundryExecutionId });
    foundry.on("snapshotSaved", (saved) => appendFileSync(logFile, `C ${saved.foundryExecutionId} ${saved.nextOperationIndex} ${owner} ${Date.now()}\n`));
    return foundry;
  },
  resolveWorkflow: (snapshot) => (snapshot.workflowName === workflow.name && snapshot.workflowVersion === workflow.version ? workflow : undefined),
  owner,
  leaseTtlMs: Number(env.WORKER_LEASE_MS ?? 2_000),
  concurrency: Number(env.WORKER_CONCURRENCY ?? 2),
  onComplete: env.WORKER_ON_COMPLETE === "delete" ? "delete" : "keep",
  retry: { attempts, baseDelayMs: 5, maxDelayMs: 50 },
});

// True when nothing is left for any worker: every unfinished record is a dead letter.
async function done(): Promise<boolean> {
  const left = await listSnapshots(provider, { status: ["running", "failed", "compensating"] }, undefined);
  return left.every((snapshot) => isDeadLetter(snapshot, attempts));
}

// A failure is a violation the parent looks for; nothing is swallowed. Completions and skips are
// logged too, so the parent can count them.
function logReport(report: RecoveryReport): void {
  const lines = [
    ...report.failed.map((failed) => `F ${failed.instanceId} ${owner} ${failed.error.name}: ${failed.error.message.replaceAll("\n", " ")}`),
    ...report.resumed.map((resumed) => `D ${resumed.instanceId} ${owner}`),
    ...report.skipped.map((skipped) => `K ${skipped.instanceId} ${owner} ${skipped.reason}`),
  ];
  if (lines.length > 0) appendFileSync(logFile, `${lines.join("\n")}\n`);
}

if (env.WORKER_GATE === "stdin") {
  process.stdout.write("ready\n");
  process.stdin.resume();
  await once(process.stdin, "end");
}
if (env.WORKER_MODE === "one") {
  const outcome = await coordinator.resume(env.WORKER_INSTANCE ?? "", workflow.id);
  const error = outcome.status === "failed" ? { name: outcome.error.name, message: outcome.error.message } : undefined;
  process.stdout.write(`${JSON.stringify({ ...outcome, error })}\n`);
} else {
  for (;;) {
    logReport(await coordinator.resumeAll());
    // With WORKER_RELEASE, the test decides when workers may leave (after its last kill).
    if ((await done()) && (env.WORKER_RELEASE === undefined || existsSync(env.WORKER_RELEASE))) break;
    await sleep(20);
  }
}
await close();
