import { readFileSync } from "node:fs";
import { isGone, processStat } from "../persistence/providers/file/owner.js";

// Whether a pid of this host still names the process that saved a record. A live pid alone cannot
// say: pids are reused (at once in a container: a restarted app is pid 1 again), and /proc answers
// for a thread's id as for a process's. Where /proc tells, the pid must be a process (its Tgid is
// itself) that started before the save; elsewhere, a live pid is all there is to go on.

// /proc counts start times in clock ticks since boot, at USER_HZ: 100 on every Linux.
const ticksPerSecond = 100;

let bootMs: number | undefined | null = null;

// The moment this host booted (epoch ms, to the second), from /proc/stat's btime.
function bootTime(): number | undefined {
  if (bootMs === null) {
    const seconds = Number(/^btime (\d+)$/m.exec(readProc("/proc/stat") ?? "")?.[1]);
    bootMs = Number.isSafeInteger(seconds) && seconds > 0 ? seconds * 1000 : undefined;
  }
  return bootMs;
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, "latin1");
  } catch {
    return undefined;
  }
}

/** True when process `pid` of this host may be the one that saved a record at `savedAt` (epoch ms). */
export function mayHaveSaved(pid: number, savedAt: number): boolean {
  if (isGone({ pid })) return false;
  const stat = processStat(pid);
  if (stat === undefined) return true;
  const tgid = Number(/^Tgid:\s*(\d+)$/m.exec(readProc(`/proc/${pid}/status`) ?? "")?.[1]);
  if (Number.isSafeInteger(tgid) && tgid !== pid) return false;
  const boot = bootTime();
  if (boot === undefined || !Number.isFinite(savedAt)) return true;
  // A second of slack: btime is whole seconds.
  return boot + (stat.started * 1000) / ticksPerSecond <= savedAt + 1000;
}
