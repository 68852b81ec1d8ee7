import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

// A crash test's child process: a bundled script that runs a workflow on a store in a case folder,
// logging each step it executes, and kills itself with SIGKILL where KILL_AT says.

/** How a crash child ended: its exit status, or the signal that killed it. */
export interface CrashChildOutcome {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/**
 * Runs `child` to its end with its files in `dir`: the store (`store`), the step log (`log`), the
 * result (`result.json`). `killAt` is the point where it kills itself ("" for none); `env` adds
 * what a particular child reads. A child that hangs is killed after 30 s.
 */
export function runCrashChild(child: string, dir: string, killAt: string, env: Readonly<Record<string, string>> = {}): CrashChildOutcome {
  const childEnv = { ...process.env, STORE_DIR: join(dir, "store"), LOG_FILE: join(dir, "log"), RESULT_FILE: join(dir, "result.json"), KILL_AT: killAt, ...env };
  const { status, signal, stderr } = spawnSync(process.execPath, [child], { env: childEnv, encoding: "utf8", timeout: 30_000 });
  return { status, signal, stderr };
}

/** How many times each of `steps` steps ran, over every child that ran in `dir`. */
export function stepExecutions(dir: string, steps: number): number[] {
  const counts = new Array<number>(steps).fill(0);
  for (const line of readFileSync(join(dir, "log"), "utf8").split("\n").filter(Boolean)) counts[Number(line)]! += 1;
  return counts;
}
