import { spawn } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";
import { createFoundry } from "../../foundry.js";
import { usePersistence } from "../middleware.js";
import type { WorkflowPersistenceProvider } from "../provider.js";

const DONE = "done";

/** What the crash workload computes; an uninterrupted run of `steps` steps yields {@link expectedCrashResult}. */
export interface CrashResult {
  readonly output: number;
  readonly properties: { readonly sum: number; readonly visited: readonly number[] };
}

export function expectedCrashResult(steps: number): CrashResult {
  const visited = Array.from({ length: steps }, (_, i) => i);
  return { output: steps, properties: { sum: visited.reduce((a, b) => a + b, 0), visited } };
}

export interface CrashWorkloadOptions {
  readonly provider: WorkflowPersistenceProvider;
  readonly instanceId: string;
  /**
   * Appends `<instanceId> <step>` when a step starts (before its checkpoint) and
   * `<instanceId> done <result>` once the snapshot is deleted, synchronously, so a kill at any
   * moment leaves an exact record.
   */
  readonly logFile: string;
  /** @default 20 */
  readonly steps?: number;
  /** Work per step, so that kills land inside steps as well as between them. @default 2 */
  readonly stepDelayMs?: number;
}

/**
 * The child side: runs (or resumes) one instance of a workflow of `steps` steps through the real
 * middleware, logging for {@link runCrashHarness}. Call it from your child script with your
 * provider, then exit.
 */
export async function runCrashWorkload(options: CrashWorkloadOptions): Promise<CrashResult> {
  const { provider, instanceId, logFile, steps = 20, stepDelayMs = 2 } = options;
  const foundry = createFoundry("CrashWorkload", { properties: { sum: 0, visited: [] as number[] } });
  let output = Number.NaN;
  for (let i = 0; i < steps; i++) {
    foundry.withOperation(`step-${i}`, async (input: number | undefined, f) => {
      appendFileSync(logFile, `${instanceId} ${i}\n`);
      await new Promise((resolve) => setTimeout(resolve, stepDelayMs));
      f.properties.sum += i;
      f.properties.visited = [...f.properties.visited, i];
      output = (input ?? 0) + 1;
      return output;
    });
  }
  // Completion is the deletion of the snapshot: after it, a restart would start a new run.
  foundry.on("snapshotDeleted", () => {
    appendFileSync(logFile, `${instanceId} ${DONE} ${JSON.stringify({ output, properties: foundry.properties })}\n`);
  });
  usePersistence(foundry, provider, { instanceId, workflowKey: "CrashWorkload-v1" });
  return { output: await foundry.forge<number>(), properties: foundry.properties };
}

export interface CrashHarnessOptions {
  /** The child: `[script, ...args]` run with this Node binary; the instance id is appended. */
  readonly command: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** The log file the workload appends to (the same path the child is given). */
  readonly logFile: string;
  /** How many instances to run to completion. */
  readonly instances: number;
  /** @default 20 */
  readonly steps?: number;
  /** Delay before each SIGKILL, drawn per attempt. @default uniform in [0, 400) ms */
  readonly killDelayMs?: () => number;
  /** After this many kills an instance runs without one, so every instance finishes. @default 4 */
  readonly maxKillsPerInstance?: number;
  /** Instances run at once (each one's attempts stay sequential). @default 1 */
  readonly concurrency?: number;
  /** Per attempt. @default 30_000 */
  readonly attemptTimeoutMs?: number;
}

export interface CrashInstanceReport {
  readonly instanceId: string;
  readonly kills: number;
  /** Executions of each step, from the log. */
  readonly executions: readonly number[];
  readonly result: CrashResult | undefined;
}

export interface CrashReport {
  readonly instances: readonly CrashInstanceReport[];
  readonly kills: number;
  /** Every broken guarantee found, one line each; empty when all held. */
  readonly violations: readonly string[];
}

interface Attempt {
  readonly killed: boolean;
  readonly code: number | null;
  readonly stderr: string;
}

function attempt(options: CrashHarnessOptions, instanceId: string, killAfterMs: number | undefined): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...options.command, instanceId], { env: { ...process.env, ...options.env }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    let killed = false;
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const kill = killAfterMs === undefined ? undefined : setTimeout(() => {
      killed = child.kill("SIGKILL");
    }, killAfterMs);
    const timeout = setTimeout(() => child.kill("SIGKILL"), options.attemptTimeoutMs ?? 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(kill);
      clearTimeout(timeout);
      // A child that finished before the timer fired was not killed, whatever the timer says.
      resolve({ killed: killed && code === null, code, stderr });
    });
  });
}

/** Reads one instance's record from the log: executions per step, and its result once done. */
function readLog(logFile: string, instanceId: string, steps: number): { executions: number[]; result: CrashResult | undefined } {
  const executions = new Array<number>(steps).fill(0);
  let result: CrashResult | undefined;
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    if (!line.startsWith(`${instanceId} `)) continue;
    const rest = line.slice(instanceId.length + 1);
    if (rest.startsWith(`${DONE} `)) result = JSON.parse(rest.slice(DONE.length + 1)) as CrashResult;
    else executions[Number(rest)]! += 1;
  }
  return { executions, result };
}

function check(report: CrashInstanceReport, expected: CrashResult): string[] {
  const problems: string[] = [];
  const { instanceId, kills, executions, result } = report;
  if (result === undefined) problems.push(`${instanceId}: never completed`);
  else if (JSON.stringify(result) !== JSON.stringify(expected)) problems.push(`${instanceId}: result ${JSON.stringify(result)} differs from an uninterrupted run`);
  executions.forEach((count, step) => {
    if (count === 0) problems.push(`${instanceId}: step ${step} never ran`);
  });
  const repeats = executions.reduce((total, count) => total + Math.max(0, count - 1), 0);
  if (repeats > kills) problems.push(`${instanceId}: ${repeats} repeated executions for ${kills} kills (at most one per kill)`);
  return problems;
}

/**
 * The parent side: runs `instances` instances of the crash workload, killing each child with
 * SIGKILL at a random moment and restarting it until it completes. Reports every guarantee that
 * broke: an instance that never completed, a step that never ran, more repeated steps than kills,
 * or a result that differs from an uninterrupted run. A child that exits non-zero without being
 * killed (for example on an unreadable snapshot) is a violation too.
 */
export async function runCrashHarness(options: CrashHarnessOptions): Promise<CrashReport> {
  const steps = options.steps ?? 20;
  const maxKills = options.maxKillsPerInstance ?? 4;
  const killDelay = options.killDelayMs ?? (() => Math.random() * 400);
  const expected = expectedCrashResult(steps);
  const reports: CrashInstanceReport[] = [];
  const violations: string[] = [];
  appendFileSync(options.logFile, "");
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < options.instances) await runInstance(next++);
  };
  const runInstance = async (n: number): Promise<void> => {
    const instanceId = `crash-${n}-${Date.now().toString(36)}`;
    let kills = 0;
    for (;;) {
      const outcome = await attempt(options, instanceId, kills < maxKills ? killDelay() : undefined);
      if (outcome.killed) kills += 1;
      else if (outcome.code !== 0) violations.push(`${instanceId}: attempt ${kills + 1} exited with ${String(outcome.code)}: ${outcome.stderr.trim().slice(0, 500)}`);
      if (!outcome.killed || readLog(options.logFile, instanceId, steps).result !== undefined) break;
    }
    const report = { instanceId, kills, ...readLog(options.logFile, instanceId, steps) };
    reports.push(report);
    violations.push(...check(report, expected));
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 1) }, worker));
  return { instances: reports, kills: reports.reduce((total, report) => total + report.kills, 0), violations };
}
