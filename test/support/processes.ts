import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

/**
 * A pid no process has: what a crashed writer leaves in its lock and temporary file names. Not the
 * pid of a child that exited: pids wrap at 32,768 by default, and on a busy machine another
 * process had it again within the second, so a "dead" owner's lock was live and never broken.
 * 2^22 + 1 is above any pid Linux (pid_max at most 2^22) or macOS gives out.
 */
export const deadPid = (): number => 4_194_305;

/** True where /proc tells when a process started (Linux); elsewhere a lock names its owner by pid alone. */
export const procfs: boolean = existsSync("/proc/self/stat");

/** Runs the script `child` under this Node with `env` added to its environment: what it printed, or a rejection with its stderr. */
export function runChild(child: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const spawned = spawn(process.execPath, [child], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let [out, err] = ["", ""];
    spawned.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    spawned.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    spawned.once("error", reject);
    spawned.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`child exited with ${code}: ${err}`))));
  });
}
