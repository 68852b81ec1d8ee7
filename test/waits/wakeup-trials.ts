import { onTestFailed } from "vitest";
import { createFoundry, createSmith, isSuspended } from "../../src/index.js";
import { createRecoveryCoordinator, signalInstance, unfinishedStatuses, usePersistence, type RecoveryOutcome, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import type { SnapshotKeys } from "../../src/persistence/errors.js";
import { listSnapshots } from "../../src/persistence/recovery/list.js";
import type { WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";
import { deferred } from "../support/promises.js";
import { approvalEvent, approvalOf, approvalWorkflow } from "./approval.js";

// Issue 16, acceptance 1 (no lost wake-up): approval runs on one store, each sent its event at a
// point chosen by a seeded random generator, many at once, while a started coordinator wakes what
// the deliveries mark due. Points inside the run are forced through a provider whose receive and
// waiting save call back into the trial; "free" ones race the run on their own.

/**
 * When a trial's event is sent, relative to its run:
 * - `before`: before the run starts (no record yet);
 * - `reserving`: from the reserve step, before the wait is first reached;
 * - `after-receive`: after the wait's first mailbox read found nothing, before the waiting save;
 * - `after-waiting-save`: right after the waiting save, before the run reads its mailbox again;
 * - `with-waiting-save`: at the same time as the waiting save;
 * - `suspended`: after `forge()` rejected with WorkflowSuspendedError;
 * - `free`: while the run goes on, after a random number of event-loop turns.
 */
export const moments = ["before", "reserving", "after-receive", "after-waiting-save", "with-waiting-save", "suspended", "free"] as const;
export type Moment = (typeof moments)[number];

/**
 * Moments at which the run must not suspend: the event is in the mailbox before the wait's first
 * read. One sent after that read and before the waiting save is seen by the run's re-read, but the
 * save stores the record due itself (the run may die before that re-read), so a coordinator's pass
 * may claim it first and continue it: either ending is right, and the checks below hold for both.
 */
const completesInProcess: readonly Moment[] = ["before", "reserving"];

/** A small seeded generator (mulberry32), so a failing trial set can be run again from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The seed of this run: WORKFLOWFORGE_SEED when set (to replay a failure), else a new one. */
export const trialSeed = (): number => (process.env.WORKFLOWFORGE_SEED === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.WORKFLOWFORGE_SEED));

export interface TrialSettings {
  /** The store the runs and the coordinator use. */
  readonly provider: WorkflowPersistenceProvider;
  /** A second provider object on the same store, as another process would have: it sends the events. */
  readonly sender: WorkflowPersistenceProvider;
  readonly trials: number;
  readonly seed: number;
  /** Trials in flight at once. @default 48 */
  readonly parallel?: number;
  /** The started coordinator's poll interval (stores without push). @default 20 */
  readonly pollIntervalMs?: number;
}

/** What the trials did, for the test to assert on. */
export interface TrialResults {
  readonly moments: ReadonlyMap<string, Moment>;
  readonly reserved: ReadonlyMap<string, number>;
  /** Every input the charge step ran with, per instance. */
  readonly charged: ReadonlyMap<string, readonly unknown[]>;
  /** How each `forge()` ended: `completed`, `suspended`, or the error's text. */
  readonly forged: ReadonlyMap<string, string>;
  /** Deliveries that answered `false` (a duplicate): none were sent twice. */
  readonly duplicates: number;
  /** Coordinator outcomes that were failures, as text. */
  readonly failures: readonly string[];
  /** Records still unfinished after the final passes found nothing more to do. */
  readonly leftOver: readonly WorkflowExecutionSnapshot[];
}

interface Hooks {
  afterReceive?: (() => Promise<void>) | undefined;
  aroundWaitingSave?: ((save: () => Promise<void>) => Promise<void>) | undefined;
}

// The provider a trial's run writes through: each hook fires once, at the first call it is for.
function hookedProvider(provider: WorkflowPersistenceProvider, hooksOf: (instance: string) => Hooks | undefined): WorkflowPersistenceProvider {
  return new Proxy(provider, {
    get(target, property) {
      if (property === "save") {
        return async (snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal): Promise<void> => {
          const hooks = snapshot.status === "waiting" ? hooksOf(snapshot.foundryExecutionId) : undefined;
          const around = hooks?.aroundWaitingSave;
          if (hooks === undefined || around === undefined) return target.save(snapshot, signal);
          hooks.aroundWaitingSave = undefined;
          await around(async () => void (await target.save(snapshot, signal)));
        };
      }
      if (property === "receive") {
        return async (keys: SnapshotKeys, name: string, signal?: AbortSignal): Promise<unknown> => {
          const events = await target.receive?.(keys, name, signal);
          const hooks = hooksOf(keys.foundryExecutionId);
          const after = hooks?.afterReceive;
          if (hooks !== undefined && after !== undefined) {
            hooks.afterReceive = undefined;
            await after();
          }
          return events;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const count = (map: Map<string, number>, key: string): void => void map.set(key, (map.get(key) ?? 0) + 1);

/** Runs `settings.trials` approval runs with their events sent at seeded random moments; resolves once every instance charged. */
export async function runWakeupTrials(settings: TrialSettings): Promise<TrialResults> {
  const { provider, sender, trials, seed } = settings;
  const random = seededRandom(seed);
  const momentOf = new Map<string, Moment>();
  const hooks = new Map<string, Hooks>();
  const reserving = new Map<string, () => Promise<void>>();
  const reserved = new Map<string, number>();
  const charged = new Map<string, unknown[]>();
  const forged = new Map<string, string>();
  const failures: string[] = [];
  const allCharged = deferred();
  let duplicates = 0;
  const workflow = approvalWorkflow({
    reserved: async (instance) => {
      count(reserved, instance);
      await reserving.get(instance)?.();
    },
    charged: (instance, approval) => {
      charged.set(instance, [...(charged.get(instance) ?? []), approval]);
      if (charged.size === trials) allCharged.resolve();
    },
  });
  const send = async (instance: string): Promise<void> => {
    const { stored } = await signalInstance(sender, { instanceId: instance, workflowKey: workflow.id }, approvalEvent, approvalOf(instance), { eventId: `${instance}-approval` });
    if (!stored) duplicates += 1;
  };
  const onOutcome = (outcome: RecoveryOutcome): void => {
    if (outcome.status === "failed") failures.push(`${outcome.instanceId}: ${outcome.error.name}: ${outcome.error.message}`);
  };
  const coordinatorOptions = { provider, resolveWorkflow: () => workflow, concurrency: 8, leaseTtlMs: 30_000, onOutcome };
  const coordinator = createRecoveryCoordinator(coordinatorOptions);
  coordinator.start({ pollIntervalMs: settings.pollIntervalMs ?? 20, onError: (error) => failures.push(`pass: ${String(error)}`) });
  const runs = hookedProvider(provider, (instance) => hooks.get(instance));
  // A lost wake-up shows as the test's timeout: say then which runs never charged, and how each began.
  onTestFailed(() => {
    const stuck = [...momentOf].filter(([instance]) => !charged.has(instance)).map(([instance, moment]) => `${instance} (${moment}, forge ${forged.get(instance) ?? "pending"})`);
    console.error(`seed ${seed}: ${stuck.length} of ${momentOf.size} runs never charged${stuck.length === 0 ? "" : `: ${stuck.slice(0, 50).join(", ")}`}`);
  });
  const smith = createSmith();

  const trial = async (index: number): Promise<void> => {
    const instance = `trial-${seed}-${index}`;
    const moment = moments[Math.floor(random() * moments.length)] as Moment;
    const turns = Math.floor(random() * 40);
    momentOf.set(instance, moment);
    if (moment === "before") await send(instance);
    if (moment === "reserving") reserving.set(instance, () => send(instance));
    if (moment === "after-receive") hooks.set(instance, { afterReceive: () => send(instance) });
    if (moment === "after-waiting-save") hooks.set(instance, { aroundWaitingSave: async (save) => (await save(), await send(instance)) });
    if (moment === "with-waiting-save") hooks.set(instance, { aroundWaitingSave: async (save) => void (await Promise.all([save(), send(instance)])) });
    const foundry = usePersistence(createFoundry("approval", { properties: { instance } }), runs, { instanceId: instance, lease: { ttlMs: 30_000 } });
    const run = smith.forge(workflow, foundry).then(
      () => "completed",
      (error: unknown) => (isSuspended(error) ? "suspended" : `${(error as Error).name}: ${(error as Error).message}`),
    );
    const racing = moment === "free" ? turnsThen(turns, () => send(instance)) : undefined;
    forged.set(instance, await run);
    await racing;
    if (moment === "suspended") await send(instance);
  };

  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < trials) await trial(next++);
  };
  await Promise.all(Array.from({ length: settings.parallel ?? 48 }, lane));
  // The started coordinator runs what suspended until every instance has charged: a lost wake-up
  // keeps this waiting (the test's timeout; its name gives the seed).
  await allCharged.promise;
  await coordinator.close();
  // Nothing may be left to run: a pass that still finds something means a second continuation.
  const finisher = createRecoveryCoordinator(coordinatorOptions);
  const last = await finisher.resumeAll();
  await finisher.close();
  for (const outcome of [...last.resumed, ...last.suspended, ...last.failed]) failures.push(`${outcome.instanceId} was found to run again after every instance charged: ${outcome.status}`);
  const leftOver = await listSnapshots(provider, { status: unfinishedStatuses }, undefined);
  return { moments: momentOf, reserved, charged, forged, duplicates, failures, leftOver };
}

async function turnsThen(turns: number, then: () => Promise<void>): Promise<void> {
  for (let turn = 0; turn < turns; turn++) await new Promise((resolve) => setImmediate(resolve));
  await then();
}

/** Every way `results` differs from "each event consumed once, by its own instance, and every run completed", as lines naming the instance and its moment. */
export function violations(results: TrialResults): string[] {
  const found: string[] = [];
  for (const [instance, moment] of results.moments) {
    const charges = results.charged.get(instance) ?? [];
    const forged = results.forged.get(instance);
    const expected = JSON.stringify(approvalOf(instance));
    if (results.reserved.get(instance) !== 1) found.push(`${instance} (${moment}): reserve ran ${results.reserved.get(instance) ?? 0} times`);
    if (charges.length !== 1) found.push(`${instance} (${moment}): charge ran ${charges.length} times`);
    for (const charge of charges) if (JSON.stringify(charge) !== expected) found.push(`${instance} (${moment}): charged with ${JSON.stringify(charge)}`);
    if (forged !== "completed" && forged !== "suspended") found.push(`${instance} (${moment}): forge() ended with ${forged ?? "nothing"}`);
    if (completesInProcess.includes(moment) && forged !== "completed") found.push(`${instance} (${moment}): suspended although its event was stored before the waiting save`);
    if (moment === "suspended" && forged !== "suspended") found.push(`${instance} (${moment}): forge() ended with ${forged ?? "nothing"} before any event was sent`);
  }
  if (results.duplicates !== 0) found.push(`${results.duplicates} deliveries were refused as duplicates, but each event was sent once`);
  found.push(...results.failures.map((failure) => `coordinator: ${failure}`));
  found.push(...results.leftOver.map((snapshot) => `${snapshot.foundryExecutionId} (${results.moments.get(snapshot.foundryExecutionId) ?? "?"}): left ${snapshot.status}${snapshot.waitingFor === undefined ? "" : ` waiting for ${snapshot.waitingFor}`}`));
  return found;
}
