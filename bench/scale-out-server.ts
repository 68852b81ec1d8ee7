import { readFileSync, readdirSync } from "node:fs";

// What the scale-out benches read about the server beside their own clients: its CPU time, from /proc.

/** A process id read by `read` (a pid file's first line, an INFO field), or undefined when there is none. */
export function pidIn(read: () => string | undefined): number | undefined {
  try {
    const pid = Number(read());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The pid of the Postgres cluster in `dataDirectory` (`SHOW data_directory`). */
export const postmasterPid = (dataDirectory: string): number | undefined => pidIn(() => readFileSync(`${dataDirectory}/postmaster.pid`, "utf8").split("\n")[0]);

/**
 * User + system CPU of the server process and its children (Postgres's backends, which live as long
 * as the clients' pools), in microseconds from /proc; undefined where there is no /proc.
 */
export function serverCpuUs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  const ticksUs = 1e6 / 100; // USER_HZ, 100 on Linux
  let total = 0;
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      } catch {
        continue; // exited meanwhile
      }
      // Fields after the command (in parentheses, which may hold spaces): state ppid ... utime(14) stime(15).
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(entry) === pid || Number(fields[1]) === pid) total += (Number(fields[11]) + Number(fields[12])) * ticksUs;
    }
  } catch {
    return undefined;
  }
  return total;
}
