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
import { scaled } from "../../support/thorough.js";

// Acceptance of recovery across processes: WORKERS processes share one real store, each running
// resumeAll in a loop over INSTANCES enqueued workflows of STEPS steps, while the test kills
// workers with SIGKILL (the first mid-instance, the others at random) and starts replacements.
const WORKERS = 4;
const INSTANCES = scaled("WORKFLOWFORGE_WORKER_INSTANCES", 60, 200);
const KILLS = scaled("WORKFLOWFORGE_WORKER_KILLS", 6, 16);
const LEASE_MS = 2_000;
const STEP_MS = 12;
// The step at which the first worker stops, to be killed there.
const HELD_STEP = STEPS / 2;

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

/** Resolves with the instance a worker started with WORKER_HOLD_AT_STEP holds, once it holds it. */
async function heldInstance(worker: Worker): Promise<string> {
  let output = "";
  for await (const chunk of worker.process.stdout ?? []) {
    output += String(chunk);
    const match = /^held (\S+)$/m.exec(output);
    if (match?.[1] !== undefined) return match[1];
  }
  throw new Error(`worker ${worker.owner} exited with code ${String(await worker.exited)} before holding a step`);
}

/**
 * Runs the workers and kills KILLS of them, starting a replacement each time, then lets them exit:
 * a worker leaves once nothing is unfinished and the release file exists, so a fast store cannot
 * finish the work before every kill has happened. The first kill is not left to chance: the first
 * worker stops in the middle of an instance (step HELD_STEP) and is killed there, so another
 * worker must take that instance over once its lease runs out. The other kills land at random moments.
 */
async function runWorkers(kind: StoreKind, url: string, logFile: string): Promise<{ kills: Map<string, number>; held: string; holder: string; exitCodes: (number | null)[] }> {
  const release = `${logFile}.release`;
  const start = (slot: number, generation: number, extra: Record<string, string> = {}) =>
    startWorker(kind, url, logFile, `w${slot}-g${generation}`, { WORKER_RELEASE: release, ...extra });
  // The holder starts alone, so it reaches its held step however slowly the machine runs.
  const first = start(0, 0, { WORKER_HOLD_AT_STEP: String(HELD_STEP) });
  const held = await heldInstance(first);
  let generation = 1;
  const slots: Worker[] = [first, ...Array.from({ length: WORKERS - 1 }, (_, slot) => start(slot + 1, generation++))];
  const kills = new Map<string, number>();
  const kill = async (slot: number) => {
    const victim = slots[slot] as Worker;
    kills.set(victim.owner, Date.now());
    victim.process.kill("SIGKILL");
    await victim.exited;
    slots[slot] = start(slot, generation++);
  };
  await kill(0);
  while (kills.size < KILLS) {
    await delay(randomBetween(100, 400));
    await kill(Math.floor(Math.random() * WORKERS));
  }
  writeFileSync(release, "");
  const exitCodes = await Promise.all(slots.map((worker) => worker.exited));
  return { kills, held, holder: first.owner, exitCodes };
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
    it(`${WORKERS} workers, ${INSTANCES} workflows of ${STEPS} steps, ${KILLS} SIGKILLs: all complete, and the instance of the worker killed mid-way is taken over`, async () => {
      const logFile = join(root, `${kind}.log`);
      writeFileSync(logFile, "");
      const { provider, close } = await openStore(kind, server.url);
      cleanup.push(close);
      const instances = await enqueueAll(provider, logFile, `${kind}-batch`);

      const { kills, held, holder, exitCodes } = await runWorkers(kind, server.url, logFile);

      const log = readFileSync(logFile, "utf8");
      expect(log.split("\n").filter((line) => line.startsWith("F "))).toEqual([]);
      expect(exitCodes.every((code) => code === 0), `worker exit codes ${exitCodes.join(",")}`).toBe(true);
      expect(kills.size).toBe(KILLS);
      const steps = readSteps(log);
      expect(verifySteps(steps, instances, kills)).toEqual([]);
      // The worker killed mid-instance left that instance to another one, which ran the held step.
      const heldSteps = steps.filter((step) => step.instance === held && step.index === HELD_STEP);
      expect(heldSteps.map((step) => [step.owner === holder, step.end !== undefined])).toContainEqual([true, false]);
      expect(heldSteps.some((step) => step.owner !== holder && step.end !== undefined)).toBe(true);
      const owners = new Map<string, Set<string>>();
      for (const step of steps) (owners.get(step.instance) ?? owners.set(step.instance, new Set()).get(step.instance))?.add(step.owner);
      const takenOver = [...owners.values()].filter((set) => set.size > 1).length;
      console.info(`${kind}: ${steps.length} step executions for ${INSTANCES * STEPS} steps, ${takenOver} instances taken over after ${kills.size} kills`);
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
