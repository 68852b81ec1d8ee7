import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { createRecoveryCoordinator, type WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { listSnapshots } from "../../../src/persistence/recovery/list.js";
import { describeWithServer } from "../../support/describe-with-server.js";
import { STEPS, batchWorkflow, readSteps } from "./batch-workflow.js";
import { workerTestSetup } from "./real-servers.js";
import { openStore, type StoreKind } from "./stores.js";
import { verifySteps } from "./verify.js";

// Acceptance of recovery across processes: WORKERS processes share one real store, each running
// resumeAll in a loop over INSTANCES enqueued workflows of STEPS steps, while the test kills
// workers with SIGKILL at random and starts replacements.
const WORKERS = 4;
const INSTANCES = Number(process.env.WORKFLOWFORGE_WORKER_INSTANCES ?? 200);
const KILLS = Number(process.env.WORKFLOWFORGE_WORKER_KILLS ?? 16);
const LEASE_MS = 2_000;
const STEP_MS = 12;

const { child, root, cleanup, servers } = await workerTestSetup("workers");

interface Worker {
  readonly owner: string;
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
}

function startWorker(kind: StoreKind, url: string, logFile: string, owner: string, extra: Record<string, string> = {}): Worker {
  const processHandle = spawn(process.execPath, [child], {
    env: { ...process.env, WORKER_STORE: kind, WORKER_URL: url, WORKER_LOG: logFile, WORKER_OWNER: owner, WORKER_LEASE_MS: String(LEASE_MS), WORKER_STEP_MS: String(STEP_MS), ...extra },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) => processHandle.once("exit", (code) => resolve(code)));
  return { owner, process: processHandle, exited };
}

const randomBetween = (low: number, high: number) => low + Math.random() * (high - low);
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs the workers, kills KILLS of them at random moments (starting a replacement each time), then
 * lets them exit: a worker leaves once nothing is unfinished and the release file exists, so a
 * fast store cannot finish the work before every kill has happened.
 */
async function runWorkers(kind: StoreKind, url: string, logFile: string): Promise<{ kills: Map<string, number>; exitCodes: (number | null)[] }> {
  const release = `${logFile}.release`;
  const start = (slot: number, generation: number) => startWorker(kind, url, logFile, `w${slot}-g${generation}`, { WORKER_RELEASE: release });
  let generation = 0;
  const slots: Worker[] = Array.from({ length: WORKERS }, (_, slot) => start(slot, generation++));
  const kills = new Map<string, number>();
  while (kills.size < KILLS) {
    await delay(randomBetween(100, 400));
    const slot = Math.floor(Math.random() * WORKERS);
    const victim = slots[slot] as Worker;
    kills.set(victim.owner, Date.now());
    victim.process.kill("SIGKILL");
    await victim.exited;
    slots[slot] = start(slot, generation++);
  }
  writeFileSync(release, "");
  const exitCodes = await Promise.all(slots.map((worker) => worker.exited));
  return { kills, exitCodes };
}

async function enqueueAll(provider: WorkflowPersistenceProvider, logFile: string, prefix: string): Promise<string[]> {
  const workflow = batchWorkflow({ logFile, owner: "enqueuer", stepMs: () => 0 });
  const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow });
  const ids = Array.from({ length: INSTANCES }, (_, i) => `${prefix}-${i}`);
  for (const instanceId of ids) await coordinator.enqueue(workflow, { instanceId, properties: { instance: instanceId } });
  return ids;
}

for (const kind of ["postgres", "redis"] as const) {
  describeWithServer(`${kind}: many workers resume every workflow exactly once at a time`, servers[kind], (server) => {
    it(`${WORKERS} workers, ${INSTANCES} workflows of ${STEPS} steps, ${KILLS} SIGKILLs`, async () => {
      const logFile = join(root, `${kind}.log`);
      writeFileSync(logFile, "");
      const { provider, close } = await openStore(kind, server.url);
      cleanup.push(close);
      const instances = await enqueueAll(provider, logFile, `${kind}-batch`);

      const { kills, exitCodes } = await runWorkers(kind, server.url, logFile);

      const log = readFileSync(logFile, "utf8");
      expect(log.split("\n").filter((line) => line.startsWith("F "))).toEqual([]);
      expect(exitCodes.every((code) => code === 0), `worker exit codes ${exitCodes.join(",")}`).toBe(true);
      expect(kills.size).toBe(KILLS);
      const steps = readSteps(log);
      expect(verifySteps(steps, instances, kills)).toEqual([]);
      // The kills landed while work was in progress: some instances were taken over by another worker.
      const owners = new Map<string, Set<string>>();
      for (const step of steps) (owners.get(step.instance) ?? owners.set(step.instance, new Set()).get(step.instance))?.add(step.owner);
      const takenOver = [...owners.values()].filter((set) => set.size > 1).length;
      console.info(`${kind}: ${steps.length} step executions for ${INSTANCES * STEPS} steps, ${takenOver} instances taken over after ${kills.size} kills`);
      expect(takenOver).toBeGreaterThan(0);
      // Nothing is left but the kept completed records, each with its chained output and every step's mark.
      const stored = await listSnapshots(provider, {}, undefined);
      expect(stored.filter((snapshot) => snapshot.status !== "completed")).toEqual([]);
      expect(stored.map((snapshot) => snapshot.foundryExecutionId).sort()).toEqual([...instances].sort());
      for (const snapshot of stored) {
        expect(snapshot.lastOutput).toBe(STEPS);
        expect(Object.keys(snapshot.properties)).toHaveLength(STEPS + 1);
      }
    }, 240_000);
  });
}
