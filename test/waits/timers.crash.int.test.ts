import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, expect, it } from "vitest";
import { createFoundry, createSmith, isSuspended } from "../../src/index.js";
import { PostgresPersistenceProvider } from "../../src/persistence/providers/postgres.js";
import { listSnapshots } from "../../src/persistence/recovery/list.js";
import { usePersistence, type WorkflowExecutionSnapshot, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { bundleForChild } from "../support/bundle.js";
import { describeWithServer } from "../support/describe-with-server.js";
import { probeMachineSlowdown } from "../support/machine-slowdown.js";
import { startPostgres } from "../support/postgres-server.js";
import { openStore, type StoreKind } from "../persistence/workers/stores.js";
import { timerWorkflow } from "./timer-workflow.js";
import { scaled } from "../support/thorough.js";

// Acceptance 4 of issue 16, in real time: INSTANCES instances stored sleeping, the wake times of
// the first `due` of them spread `rate` a second, the others an hour away; every worker is
// SIGKILLed while they all sleep, and new workers start once some wake times have passed with none
// alive. Each instance's step after the sleep logs when it started: a due one must start once, never
// before its stored wake time, and within LATE_MS after the later of its wake time and the moment a
// worker was alive again (times how much slower than idle the machine was meanwhile: a margin that
// holds on a quiet machine and fails on a busy one would test the machine); the others are still
// asleep at the end. `rate` is what two workers keep up
// with on a loaded 2-core machine, so that lateness measures waking, not a queue: on Postgres (three
// commits per wake) that is fewer. WORKFLOWFORGE_TIMER_DUE=10000 wakes every instance (minutes).
// A local npm test stores 1,000 and wakes a fifth as many as .ci/run (WORKFLOWFORGE_THOROUGH=1).
const INSTANCES = scaled("WORKFLOWFORGE_TIMER_INSTANCES", 1_000, 10_000);
const due = (wakes: number): number => Math.min(INSTANCES, scaled("WORKFLOWFORGE_TIMER_DUE", wakes / 5, wakes));
const plans = {
  sqlite: { due: due(2_000), rate: 200 },
  postgres: { due: due(1_000), rate: 100 },
} as const;
const LATE_MS = 1_000;

const child = bundleForChild(fileURLToPath(new URL("./timer-worker.ts", import.meta.url)));
const root = mkdtempSync(join(tmpdir(), "wf-timers-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Worker {
  readonly process: ChildProcess;
  /** When it printed "ready": its coordinator was polling. */
  readonly ready: Promise<number>;
}

function startWorker(kind: StoreKind, url: string, log: string): Worker {
  const processHandle = spawn(process.execPath, [child], { env: { ...process.env, TIMER_STORE: kind, TIMER_URL: url, TIMER_LOG: log }, stdio: ["pipe", "pipe", "inherit"] });
  const ready = new Promise<number>((resolve, reject) => {
    processHandle.stdout?.once("data", () => resolve(Date.now()));
    processHandle.once("exit", (code) => reject(new Error(`timer worker exited with code ${String(code)} before it was ready`)));
  });
  return { process: processHandle, ready };
}

async function killed(worker: Worker): Promise<void> {
  const exited = new Promise((resolve) => worker.process.once("exit", resolve));
  worker.process.kill("SIGKILL");
  await exited;
}

async function stopped(worker: Worker): Promise<void> {
  const exited = new Promise((resolve) => worker.process.once("exit", resolve));
  worker.process.stdin?.end();
  await exited;
}

// A sleeping instance as a run leaves it: the record of one real run suspended at the sleep, copied
// under other keys with another wake time (a run per instance would make the setup the test).
async function sleepingTemplate(provider: WorkflowPersistenceProvider, log: string): Promise<WorkflowExecutionSnapshot> {
  const workflow = timerWorkflow(log);
  const foundry = usePersistence(createFoundry("timer"), provider, { instanceId: "template" });
  expect(isSuspended(await createSmith().forge(workflow, foundry).catch((error: unknown) => error))).toBe(true);
  const stored = await provider.tryLoad("template", workflow.id);
  await provider.delete("template", workflow.id);
  const template: Record<string, unknown> = { ...stored };
  for (const claim of ["owner", "leaseExpiresAt", "attempts"]) delete template[claim];
  return template as unknown as WorkflowExecutionSnapshot;
}

/** Stores the instances from `from` to `to` - 1, each sleeping until `wake(place)`; adds their wake times to `wakeAt`. */
async function storeSleeping(provider: WorkflowPersistenceProvider, template: WorkflowExecutionSnapshot, from: number, to: number, wake: (place: number) => number, wakeAt: Map<string, number>): Promise<void> {
  for (let index = from; index < to; index += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, to - index) }, async (_, offset) => {
        const instanceId = `timer-${index + offset}`;
        const at = Math.round(wake(index + offset));
        wakeAt.set(instanceId, at);
        const now = new Date().toISOString();
        await provider.save({ ...template, foundryExecutionId: instanceId, revision: 1, createdAt: now, updatedAt: now, wakeAt: new Date(at).toISOString() });
      }),
    );
  }
}

/** Saves per second into `provider` now, measured on records it deletes again: how long storing every instance will take. */
async function saveRate(provider: WorkflowPersistenceProvider, template: WorkflowExecutionSnapshot): Promise<number> {
  const started = Date.now();
  const ids = Array.from({ length: 200 }, (_, index) => `warm-up-${index}`);
  for (let index = 0; index < ids.length; index += 50) {
    await Promise.all(ids.slice(index, index + 50).map(async (instanceId) => provider.save({ ...template, foundryExecutionId: instanceId, revision: 1, wakeAt: new Date(Date.now() + 3_600_000).toISOString() })));
  }
  await Promise.all(ids.map(async (instanceId) => provider.delete(instanceId, template.workflowId)));
  return (ids.length * 1_000) / Math.max(1, Date.now() - started);
}

interface Wake {
  readonly at: number;
  readonly pid: number;
}

function wakes(log: string): Map<string, Wake[]> {
  const byInstance = new Map<string, Wake[]>();
  const text = existsSync(log) ? readFileSync(log, "utf8") : "";
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const [instanceId = "", at, pid] = line.split(" ");
    byInstance.set(instanceId, [...(byInstance.get(instanceId) ?? []), { at: Number(at), pid: Number(pid) }]);
  }
  return byInstance;
}

/** Resolves once the log holds `count` wakes and the store no record that is not asleep; `sleeping` are left. */
async function settled(provider: WorkflowPersistenceProvider, log: string, count: number, sleeping: number): Promise<void> {
  for (;;) {
    const woken = [...wakes(log).values()].reduce((sum, list) => sum + list.length, 0);
    if (woken >= count && (await listSnapshots(provider, { workflowName: "timer", status: ["running", "failed", "compensating"] }, undefined)).length === 0) {
      expect(await listSnapshots(provider, { workflowName: "timer" }, undefined)).toHaveLength(sleeping);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function postgresStore(url: string) {
  const pool = new pg.Pool({ connectionString: url, max: 16 });
  return { provider: new PostgresPersistenceProvider({ client: pool }), close: () => pool.end() };
}

async function run(kind: StoreKind, url: string): Promise<void> {
  const log = join(root, `${kind}.log`);
  // The parent stores thousands of records at once: a pool wider than openStore's.
  const { provider, close } = kind === "postgres" ? postgresStore(url) : await openStore(kind, url);
  try {
    const template = await sleepingTemplate(provider, log);
    const first = [startWorker(kind, url, log), startWorker(kind, url, log)];
    await Promise.all(first.map((worker) => worker.ready));
    // The first wake comes once everything is stored (at the rate just measured, with room to spare) and the workers are dead.
    const plan = plans[kind as keyof typeof plans];
    const wakeAt = new Map<string, number>();
    // Those that sleep on first (an hour); then the due ones, the first waking once they are all
    // stored (at the rate just measured, with room to spare) and the workers are dead.
    const later = Date.now() + 3_600_000;
    await storeSleeping(provider, template, plan.due, INSTANCES, () => later, wakeAt);
    const firstWake = Date.now() + (1.5 * plan.due * 1_000) / (await saveRate(provider, template)) + 500;
    await storeSleeping(provider, template, 0, plan.due, (place) => firstWake + (place * 1_000) / plan.rate, wakeAt);
    await Promise.all(first.map(killed));
    const deadFrom = Date.now();
    expect(deadFrom).toBeLessThan(firstWake);
    // New workers come once wake times have passed with no worker alive.
    await new Promise((resolve) => setTimeout(resolve, firstWake + 100 - Date.now()));
    const slowdown = await probeMachineSlowdown();
    const second = [startWorker(kind, url, log), startWorker(kind, url, log)];
    const back = Math.min(...(await Promise.all(second.map((worker) => worker.ready))));
    await settled(provider, log, plan.due, INSTANCES - plan.due);
    await Promise.all(second.map(stopped));
    // A second on an idle machine; as many as the machine was slower while the wakes ran.
    const lateMs = LATE_MS * (await slowdown.stop());

    const woken = wakes(log);
    const problems: string[] = [];
    let missedWhileDead = 0;
    for (const [instanceId, wake] of wakeAt) {
      const seen = woken.get(instanceId) ?? [];
      if (wake >= later) {
        if (seen.length > 0) problems.push(`${instanceId} woke ${wake - (seen[0] as Wake).at} ms early`);
        continue;
      }
      if (seen.length !== 1) {
        problems.push(`${instanceId} woke ${seen.length} times`);
        continue;
      }
      const at = (seen[0] as Wake).at;
      const due = Math.max(wake, back);
      if (wake < back) missedWhileDead++;
      if (at < wake) problems.push(`${instanceId} woke ${wake - at} ms early`);
      if (at > due + lateMs) problems.push(`${instanceId} woke ${at - due} ms after it was due with a worker alive (allowed ${Math.round(lateMs)} ms)`);
    }
    expect(problems.slice(0, 20)).toEqual([]);
    expect(woken.size).toBe(plan.due);
    const asleep = await listSnapshots(provider, { workflowName: "timer" }, undefined);
    expect(asleep.filter((snapshot) => snapshot.status === "waiting")).toHaveLength(INSTANCES - plan.due);
    expect(missedWhileDead).toBeGreaterThan(0);
  } finally {
    await close();
  }
}

it(`${INSTANCES} instances sleeping on SQLite, every worker killed mid-sleep: the ${plans.sqlite.due} due wake once, never early, within ${LATE_MS} ms (times the machine's slowdown) with a worker alive; the others sleep on`, async () => {
  await run("sqlite", join(root, "timers.db"));
}, 120_000);

describeWithServer("on Postgres", await startPostgres(), (server) => {
  afterAll(() => server.stop());
  it(`${INSTANCES} instances sleeping on Postgres, every worker killed mid-sleep: the ${plans.postgres.due} due wake once, never early, within ${LATE_MS} ms (times the machine's slowdown) with a worker alive; the others sleep on`, async () => {
    await run("postgres", server.url);
  }, 120_000);
});
