import { spawn, type ChildProcess } from "node:child_process";
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

// Process groups are POSIX: elsewhere the child is started and killed on its own.
const groups = process.platform !== "win32";
// How long the pipes may stay open once the child exited: a process it left behind may hold them.
const pipeGraceMs = 1_000;

/**
 * SIGKILLs the child's whole process group: a command that starts the workload through a launcher
 * (tsx, a shell) runs it in a grandchild, which must die too for the kill to be a crash.
 */
function killAll(child: ChildProcess): boolean {
  if (groups && child.pid !== undefined) {
    try {
      return process.kill(-child.pid, "SIGKILL");
    } catch {
      // The group is gone already, or cannot be signalled: the child itself still can.
    }
  }
  return child.kill("SIGKILL");
}

// Children still running when this process exits (a test runner ending it, process.exit): in their
// own process groups, nothing else would end them, and a hung one would run on for good.
const running = new Set<ChildProcess>();
let exitHooked = false;
function track(child: ChildProcess): void {
  running.add(child);
  child.once("exit", () => running.delete(child));
  if (exitHooked) return;
  exitHooked = true;
  process.once("exit", () => {
    for (const left of running) killAll(left);
  });
}

/** Starts the child for `instanceId` once, killing it `killDelay()` ms after its run starts, if given. */
export function attempt(options: CrashHarnessOptions, instanceId: string, killDelay: (() => number) | undefined): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...options.command, instanceId], { env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"], detached: groups });
    track(child);
    let stdout = "";
    let stderr = "";
    let killed = false;
    let timedOut = false;
    let startedAt: number | undefined;
    let runMs: number | undefined;
    let kill: ReturnType<typeof setTimeout> | undefined;
    let grace: ReturnType<typeof setTimeout> | undefined;
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (startedAt === undefined && stdout.includes(startedLine)) {
        startedAt = performance.now();
        if (killDelay !== undefined) kill = setTimeout(() => (killed = killAll(child)), killDelay());
      }
      if (startedAt !== undefined && runMs === undefined && stdout.includes(finishedLine)) runMs = performance.now() - startedAt;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timeout = setTimeout(() => (timedOut = killAll(child)), options.attemptTimeoutMs ?? 30_000);
    const settle = (): void => {
      clearTimeout(grace);
      const code = child.exitCode;
      // A child that finished before a timer fired was not killed by it, whatever the timer says.
      resolve({ killed: killed && !timedOut && code === null, timedOut: timedOut && code === null, code, stderr, runMs });
    };
    child.on("error", reject);
    child.on("exit", () => {
      // Cleared at once: a timer firing later would signal a group whose ids may be reused.
      clearTimeout(kill);
      clearTimeout(timeout);
      grace = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        settle();
      }, pipeGraceMs);
    });
    child.on("close", settle);
  });
}

/** Why an attempt that was not killed at its random moment failed, or undefined when it exited 0. */
export function attemptFailure(options: CrashHarnessOptions, outcome: Attempt): string | undefined {
  if (outcome.timedOut) return `did not finish within ${options.attemptTimeoutMs ?? 30_000} ms (killed)`;
  if (outcome.code !== 0) return `exited with ${String(outcome.code)}: ${outcome.stderr.trim().slice(0, 500)}`;
  return undefined;
}
