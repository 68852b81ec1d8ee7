import { appendFileSync } from "node:fs";
import { attempt, attemptFailure } from "./crash-attempt.js";
import { expectedCrashResult, readCrashLog, type CrashLog, type CrashOutcome, type CrashResult } from "./crash-log.js";
import { requireCrashHarnessOptions } from "./crash-options.js";

export interface CrashHarnessOptions {
  /** The child: `[script, ...args]` run with this Node binary; the instance id is appended. */
  readonly command: readonly string[];
  readonly env?: Readonly<Record<string, string>> | undefined;
  /** The log file the workload appends to (the same path the child is given). */
  readonly logFile: string;
  /** How many instances to run to completion. */
  readonly instances: number;
  /** @default 20 */
  readonly steps?: number | undefined;
  /**
   * Delay before each SIGKILL, drawn per attempt and counted from the moment the workload starts
   * its run (not from the spawn); `first` is true for an instance's first attempt. @default uniform
   * over the measured length of a whole run (steps × the median time per step of the attempts that
   * ran to completion so far; 400 ms before the first): in [0, 0.9 ×) for a first attempt, so
   * that nearly every instance is killed mid-run, and in [0, 1.2 ×) after, so that some kills land
   * early in a resumed run and others miss it
   */
  readonly killDelayMs?: ((first: boolean) => number) | undefined;
  /** After this many kills an instance runs without one, so every instance finishes. @default 4 */
  readonly maxKillsPerInstance?: number | undefined;
  /** Instances run at once (each one's attempts stay sequential). @default 1 */
  readonly concurrency?: number | undefined;
  /** Per attempt; a child still running then is killed and reported as one that did not finish in time. @default 30_000 */
  readonly attemptTimeoutMs?: number | undefined;
}

export interface CrashInstanceReport {
  readonly instanceId: string;
  readonly kills: number;
  /** Kills that landed after a step of that attempt had started and before the snapshot's deletion started. */
  readonly midRunKills: number;
  /**
   * Kills that landed while the snapshot was being deleted, after which the next attempt found it
   * gone and began a new run, as a restart after completion should: that run's steps are not repeats.
   */
  readonly newRunsAfterDeletion: number;
  /** Executions of each step over all runs, from the log. */
  readonly executions: readonly number[];
  /** What the last completed run left; its output is not checked when a kill kept it from being reported. */
  readonly result: CrashOutcome | undefined;
}

export interface CrashReport {
  readonly instances: readonly CrashInstanceReport[];
  readonly kills: number;
  /** Kills that interrupted a run mid-workflow; a harness whose kills all land before the first step or after the last proves little. */
  readonly midRunKills: number;
  /** Every broken guarantee found, one line each; empty when all held. */
  readonly violations: readonly string[];
}

type ResolvedOptions = CrashHarnessOptions & { readonly steps: number };

function check(report: CrashInstanceReport, expected: CrashResult): string[] {
  const problems: string[] = [];
  const { instanceId, executions, result } = report;
  if (result === undefined) problems.push(`${instanceId}: never completed`);
  else {
    const sameOutput = result.output === undefined || result.output === expected.output;
    if (!sameOutput || JSON.stringify(result.properties) !== JSON.stringify(expected.properties)) {
      problems.push(`${instanceId}: result ${JSON.stringify(result)} differs from an uninterrupted run`);
    }
  }
  executions.forEach((count, step) => {
    if (count === 0) problems.push(`${instanceId}: step ${step} never ran`);
  });
  return problems;
}

/**
 * How many of the executions in `during` (one attempt's, per step) ran a step that had already run
 * in this run (`earlier`, per step), or twice within the attempt: the operations a kill made run again.
 */
function repeats(earlier: readonly number[], during: readonly number[]): number {
  return during.reduce((total, count, step) => total + ((earlier[step] ?? 0) > 0 ? count : Math.max(0, count - 1)), 0);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const difference = (after: CrashLog, before: CrashLog): number[] => after.executions.map((count, step) => count - (before.executions[step] ?? 0));

/** Attempts one instance until it completes, returning its report and the problems seen on the way. */
async function runInstance(options: ResolvedOptions, instanceId: string, killDelay: (first: boolean) => number, onCompletedRun: (ms: number, steps: number) => void) {
  const { steps } = options;
  const maxKills = options.maxKillsPerInstance ?? 4;
  const problems: string[] = [];
  let kills = 0;
  let midRunKills = 0;
  let newRunsAfterDeletion = 0;
  let log = readCrashLog(options.logFile, instanceId, steps);
  let run: number[] = new Array<number>(steps).fill(0);
  let completed = false;
  let number = 0;
  while (!completed) {
    number += 1;
    const outcome = await attempt(options, instanceId, kills < maxKills ? () => killDelay(number === 1) : undefined);
    const before = log;
    log = readCrashLog(options.logFile, instanceId, steps);
    const during = difference(log, before);
    if (!outcome.killed && outcome.code === 0 && outcome.runMs !== undefined) onCompletedRun(outcome.runMs, during.reduce((sum, count) => sum + count, 0));
    const firstStep = log.started[before.started.length];
    const ranSteps = firstStep !== undefined;
    // The previous attempt was killed while deleting: a run from step 0 now means the deletion
    // happened. One resumed later on is the old run going on, so its repeats count (a store that
    // lost acknowledged checkpoints resumes there).
    if (before.completing > before.completed && firstStep === 0) {
      newRunsAfterDeletion += 1;
      run = new Array<number>(steps).fill(0);
    }
    const again = repeats(run, during);
    const allowed = run.every((count) => count === 0) ? 0 : 1;
    if (again > allowed) problems.push(`${instanceId}: attempt ${number} ran ${again} steps again after ${allowed === 0 ? "no kill in this run" : "one kill"} (at most one per kill)`);
    run = run.map((count, step) => count + (during[step] ?? 0));
    if (outcome.killed) {
      kills += 1;
      // Mid-run: after a step started and before the deletion did (a kill in the deletion is after the last step).
      if (ranSteps && log.completing === before.completing) midRunKills += 1;
    }
    const failure = outcome.killed ? undefined : attemptFailure(options, outcome);
    if (failure !== undefined) problems.push(`${instanceId}: attempt ${number} ${failure}`);
    completed = log.completed > before.completed;
    if (!outcome.killed) break;
  }
  const report: CrashInstanceReport = { instanceId, kills, midRunKills, newRunsAfterDeletion, executions: log.executions, result: log.result };
  if (completed) problems.push(...(await startsAnew(options, instanceId, log)));
  return { report, problems };
}

/**
 * Starts the child once more for a completed instance, without a kill: it must begin a new run
 * from step 0 and run every step once. The log's completion line only says the engine asked for
 * the deletion; this says the provider did it, so that "nothing is left stored" holds.
 */
async function startsAnew(options: ResolvedOptions, instanceId: string, before: CrashLog): Promise<string[]> {
  const outcome = await attempt(options, instanceId, undefined);
  const during = difference(readCrashLog(options.logFile, instanceId, options.steps), before);
  const failure = attemptFailure(options, outcome);
  if (failure !== undefined) return [`${instanceId}: a run started after completion ${failure}`];
  if (during.every((count) => count === 1)) return [];
  const ran = during.flatMap((count, step) => (count > 0 ? [step] : []));
  const what = ran.length === 0 ? "no step" : `steps ${ran.join(", ")}`;
  return [`${instanceId}: a run started after completion did not begin at step 0 and run every step once (it ran ${what}): the completed run left its snapshot stored`];
}

/**
 * The parent side: runs `instances` instances of the crash workload, killing each child with
 * SIGKILL at a random moment and restarting it until it completes. Reports every guarantee that
 * broke: an instance that never completed, a step that never ran, an attempt that ran more than
 * one step again after a kill (or any, after none), a result that differs from an uninterrupted
 * run, or a snapshot left stored: each completed instance is started once more, without a kill, and
 * must begin a new run from step 0. A child that exits non-zero without being killed (for example
 * on an unreadable snapshot), or outlives `attemptTimeoutMs`, is a violation too. Rejects with a
 * `TypeError` naming the option when an option is missing, of the wrong type or unknown.
 */
export async function runCrashHarness(given: CrashHarnessOptions): Promise<CrashReport> {
  const checked = requireCrashHarnessOptions(given);
  const options: ResolvedOptions = { ...checked, steps: checked.steps ?? 20 };
  // A whole run's length: steps × the median time per step of the attempts that completed (those
  // resumed mid-run ran fewer steps). The median, because an attempt that first waited out a dead
  // writer's lock takes seconds.
  const stepMs: number[] = [];
  const wholeRunMs = (): number => (stepMs.length === 0 ? 400 : median(stepMs) * options.steps);
  const killDelay = options.killDelayMs ?? ((first: boolean) => Math.random() * (first ? 0.9 : 1.2) * wholeRunMs());
  const expected = expectedCrashResult(options.steps);
  const reports: CrashInstanceReport[] = [];
  const violations: string[] = [];
  appendFileSync(options.logFile, "");
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < options.instances) {
      const { report, problems } = await runInstance(options, `crash-${next++}-${Date.now().toString(36)}`, killDelay, (ms, steps) => {
        // An attempt that only finished the deletion ran no step: it says nothing of a step's time.
        if (steps > 0) stepMs.push(ms / steps);
      });
      reports.push(report);
      violations.push(...problems, ...check(report, expected));
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 1 }, worker));
  const total = (count: (report: CrashInstanceReport) => number): number => reports.reduce((sum, report) => sum + count(report), 0);
  return { instances: reports, kills: total((report) => report.kills), midRunKills: total((report) => report.midRunKills), violations };
}
