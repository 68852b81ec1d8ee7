import { spawn } from "node:child_process";
import type { CrashHarnessOptions } from "./crash-harness.js";
import { finishedLine, startedLine } from "./crash-log.js";

/** How one start of the child ended. */
export interface Attempt {
  /** Killed at the random moment drawn for it. */
  readonly killed: boolean;
  /** Killed because it outlived `attemptTimeoutMs`: hung, not crashed. */
  readonly timedOut: boolean;
  readonly code: number | null;
  readonly stderr: string;
  /** From the workload's start to forge() resolving; undefined when it did not get that far. */
  readonly runMs: number | undefined;
}

/** Starts the child for `instanceId` once, killing it `killDelay()` ms after its run starts, if given. */
export function attempt(options: CrashHarnessOptions, instanceId: string, killDelay: (() => number) | undefined): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...options.command, instanceId], { env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let killed = false;
    let timedOut = false;
    let startedAt: number | undefined;
    let runMs: number | undefined;
    let kill: ReturnType<typeof setTimeout> | undefined;
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (startedAt === undefined && stdout.includes(startedLine)) {
        startedAt = performance.now();
        if (killDelay !== undefined) kill = setTimeout(() => (killed = child.kill("SIGKILL")), killDelay());
      }
      if (startedAt !== undefined && runMs === undefined && stdout.includes(finishedLine)) runMs = performance.now() - startedAt;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timeout = setTimeout(() => (timedOut = child.kill("SIGKILL")), options.attemptTimeoutMs ?? 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(kill);
      clearTimeout(timeout);
      // A child that finished before a timer fired was not killed by it, whatever the timer says.
      resolve({ killed: killed && !timedOut && code === null, timedOut: timedOut && code === null, code, stderr, runMs });
    });
  });
}

/** Why an attempt that was not killed at its random moment failed, or undefined when it exited 0. */
export function attemptFailure(options: CrashHarnessOptions, outcome: Attempt): string | undefined {
  if (outcome.timedOut) return `did not finish within ${options.attemptTimeoutMs ?? 30_000} ms (killed)`;
  if (outcome.code !== 0) return `exited with ${String(outcome.code)}: ${outcome.stderr.trim().slice(0, 500)}`;
  return undefined;
}
