import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** The pid of a process that has exited: what a crashed writer leaves in its lock and temporary file names. */
export const deadPid = (): number => spawnSync(process.execPath, ["-e", ""]).pid;

/** True where /proc tells when a process started (Linux); elsewhere a lock names its owner by pid alone. */
export const procfs: boolean = existsSync("/proc/self/stat");
