// Who holds a file lock, and whether that process is gone. A pid alone cannot say: pids are reused,
// and in a container they are reused at once (a restarted container's node is pid 1 again, or
// whatever it was last time), so the lock a crashed process left would look held by its own
// successor for good. Where the system tells (Linux's /proc), an owner is also named by the
// moment its process started, which no later process with the same pid shares. (Processes that
// share a pid namespace but not a time namespace read each other's start times shifted, and
// would take each other's old locks for a dead writer's; the provider does not support that.)

import { readFileSync } from "node:fs";

/** A lock's holder: its pid and, where known, its process's start time in clock ticks since boot. */
export interface LockOwner {
  readonly pid: number;
  readonly started?: number;
}

/** What /proc tells of a process: its state letter (field 3) and its start time (field 22). */
export interface ProcessStat {
  readonly state: string;
  readonly started: number;
}

function readStat(path: string): string | undefined {
  try {
    return readFileSync(path, "latin1");
  } catch {
    return undefined;
  }
}

// /proc describes the pid namespace it was mounted for, which a sandbox that moved the process into
// a new one without remounting it is not: then its pids are another namespace's, and it is not asked.
let procfsIsOurs: boolean | undefined;

/**
 * The state and start time of process `pid` from `/proc/<pid>/stat` (clock ticks since boot), or
 * undefined where there is no such file (not Linux, or no such process) or /proc is another pid
 * namespace's. Synchronous: procfs is generated in memory, and this runs once per process and then
 * only for locks found stale-aged.
 */
export function processStat(pid: number): ProcessStat | undefined {
  procfsIsOurs ??= Number.parseInt(readStat("/proc/self/stat") ?? "", 10) === process.pid;
  const stat = procfsIsOurs ? readStat(`/proc/${pid}/stat`) : undefined;
  if (stat === undefined) return undefined;
  // The command name, field 2, is in parentheses and may hold spaces and parentheses itself.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const started = Number(fields[19]); // field 22; the slice starts at field 3
  return Number.isSafeInteger(started) ? { state: fields[0] ?? "", started } : undefined;
}

/** The start time of process `pid`, where {@link processStat} tells it. */
export const processStartTime = (pid: number): number | undefined => processStat(pid)?.started;

let current: LockOwner | undefined;

/** This process as a lock owner; worker threads share it, as they share the pid. */
export function thisOwner(): LockOwner {
  if (current === undefined) {
    const started = processStartTime(process.pid);
    current = Object.freeze(started === undefined ? { pid: process.pid } : { pid: process.pid, started });
  }
  return current;
}

function isAlive(pid: number): boolean {
  // 0 and negative pids would address process groups.
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code !== "ESRCH"; // EPERM: alive, another user's
  }
}

/**
 * True when the process that took the lock has exited: its pid is dead (or was never written), it
 * is a zombie (exited, not yet reaped by its parent, which a container's first process may never
 * do), it is now a thread's id (/proc answers for one as for a process: a fresh pid namespace may
 * hand the pid to a thread of another process), or the pid now belongs to a process that started
 * at another moment. A live owner is never gone, this process included: worker threads share its
 * pid and start time. What /proc cannot tell counts as alive.
 */
export function isGone(owner: LockOwner): boolean {
  if (!isAlive(owner.pid)) return true;
  const stat = processStat(owner.pid);
  if (stat === undefined) return false;
  if (stat.state === "Z" || stat.state === "X") return true;
  if (owner.started !== undefined) return stat.started !== owner.started;
  const tgid = Number(/^Tgid:\s*(\d+)$/m.exec(readStat(`/proc/${owner.pid}/status`) ?? "")?.[1]);
  return Number.isSafeInteger(tgid) && tgid !== owner.pid;
}

/** `<pid> <random> <start time>`: the first line of a lock that holds no record (a delete's, a breaker's). */
export function ownerLine(owner: LockOwner, random: string): string {
  return owner.started === undefined ? `${owner.pid} ${random}\n` : `${owner.pid} ${random} ${owner.started}\n`;
}

/**
 * The owner named by a lock file's first line: a save's lock is its new record, whose JSON header
 * holds `pid` and `started`; a delete's is {@link ownerLine}'s. Undefined when the line names no
 * process: the lock was not written by this provider, and nothing tells whether its owner is gone.
 */
export function lockOwner(firstLine: string): LockOwner | undefined {
  let pid: unknown;
  let started: unknown;
  if (firstLine.startsWith("{")) {
    try {
      ({ pid, started } = JSON.parse(firstLine) as { pid?: unknown; started?: unknown });
    } catch {
      return undefined;
    }
  } else {
    const [first = "", , last] = firstLine.split(" ");
    pid = /^[1-9][0-9]*$/.test(first) ? Number(first) : undefined;
    started = last !== undefined && /^[0-9]+$/.test(last) ? Number(last) : undefined;
  }
  if (!Number.isSafeInteger(pid) || (pid as number) <= 0) return undefined;
  // A start time that is not a whole number (from elsewhere) is left out: the pid rule alone applies.
  return Number.isSafeInteger(started) ? { pid: pid as number, started: started as number } : { pid: pid as number };
}
