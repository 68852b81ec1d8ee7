import { readFileSync } from "node:fs";
import { isGone, processStat } from "../persistence/providers/file/owner.js";

// Whether a pid of this host still names a live process. /proc answers for a thread's id as for a
// process's (a fresh pid namespace hands the exited owner's pid to a thread of this very CLI), so
// a pid whose Tgid is another is no process of its own. A pid that another process has taken over
// since cannot be told from here: the owner names no start time, and a record's updatedAt is the
// foundry's clock, not the host's.

/** True when process `pid` of this host has exited (its pid is dead, a zombie's, or a thread's id). */
export function ownerGone(pid: number): boolean {
  if (isGone({ pid })) return true;
  // Asked only where /proc is this process's own: elsewhere a live pid is all there is to go on.
  if (processStat(pid) === undefined) return false;
  const tgid = Number(/^Tgid:\s*(\d+)$/m.exec(readStatus(pid))?.[1]);
  return Number.isSafeInteger(tgid) && tgid !== pid;
}

function readStatus(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, "latin1");
  } catch {
    return "";
  }
}
