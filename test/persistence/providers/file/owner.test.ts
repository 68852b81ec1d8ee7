import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { once } from "node:events";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { deadPid, procfs } from "../../../support/processes.js";
import { isGone, lockOwner, ownerLine, processStartTime, processStat, thisOwner } from "../../../../src/persistence/providers/file/owner.js";


const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

/** A process that sleeps until killed, started from `path` (so that its command name is the file's). */
async function sleeper(path = process.execPath): Promise<number> {
  const child = spawn(path, ["-e", "setTimeout(() => {}, 60_000)"], { stdio: "ignore" });
  children.push(child);
  await new Promise((resolve, reject) => child.once("spawn", resolve).once("error", reject));
  return child.pid as number;
}

describe("lock owners", () => {
  it("read back from the lines they write: a delete's `<pid> <random> <start>` and a record header's JSON", () => {
    for (const owner of [{ pid: 42, started: 12345 }, { pid: 42 }]) {
      expect(lockOwner(ownerLine(owner, "0a1b").trimEnd())).toEqual(owner);
      expect(lockOwner(JSON.stringify({ format: "workflowforge-file/1", ...owner }))).toEqual(owner);
    }
    // Where /proc tells no start time, a line names the pid alone; a start time that is not a whole number is left out.
    expect(lockOwner("42 0a1b")).toEqual({ pid: 42 });
    expect(lockOwner("42 0a1b 12x")).toEqual({ pid: 42 });
    expect(lockOwner("42 0a1b ")).toEqual({ pid: 42 });
    expect(lockOwner('{"format":"workflowforge-file/1","pid":42,"started":"soon"}')).toEqual({ pid: 42 });
  });

  it("is unknown when the line names no process: empty, cut inside a header, or no positive pid", () => {
    for (const line of ["", "   ", "x 0a1b", "0 0a1b", "-5 0a1b", "4.5 0a1b", '{"format":"workflowforge-file/1"', '{"pid":0}', '{"pid":"42"}', "{}", "null"]) {
      expect(lockOwner(line), line).toBeUndefined();
    }
  });

  it("is gone when its pid is dead or was never written, and not while it lives", async () => {
    expect(isGone({ pid: deadPid() })).toBe(true);
    expect(isGone({ pid: Number.NaN })).toBe(true);
    expect(isGone({ pid: 0 })).toBe(true);
    expect(isGone({ pid: -1 })).toBe(true);
    expect(isGone({ pid: await sleeper() })).toBe(false);
    expect(isGone(thisOwner())).toBe(false);
  });

  describe.skipIf(!procfs)("with start times (Linux: /proc/<pid>/stat)", () => {
    it("this process is named by its pid and the start time /proc gives it", () => {
      const stat = readFileSync("/proc/self/stat", "latin1");
      const started = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
      expect(thisOwner()).toEqual({ pid: process.pid, started });
      expect(processStartTime(process.pid)).toBe(started);
    });

    it("reads start times in order of starting, for a command name with spaces and parentheses too", async () => {
      const directory = mkdtempSync(join(tmpdir(), "workflowforge-owner-"));
      try {
        const oddName = join(directory, "a) b (c");
        symlinkSync(process.execPath, oddName);
        const odd = await sleeper(oddName);
        expect(readFileSync(`/proc/${odd}/stat`, "latin1")).toContain("(a) b (c)");
        const later = await sleeper();
        const times = [processStartTime(process.pid), processStartTime(odd), processStartTime(later)] as number[];
        for (const time of times) expect(Number.isSafeInteger(time)).toBe(true);
        expect(times).toEqual([...times].sort((a, b) => a - b));
        expect(processStartTime(deadPid())).toBeUndefined();
      } finally {
        rmSync(directory, { recursive: true, force: true });
      }
    });

    // sh starts a short sleep in the background and becomes `sleep 30`, which never reaps it. A shell
    // reaps a child that exited before the exec, so that attempt is made again rather than timed.
    async function zombie(): Promise<{ parent: ReturnType<typeof spawn>; pid: number }> {
      for (;;) {
        const parent = spawn("sh", ["-c", "sleep 0.2 & echo $!; exec sleep 30"], { stdio: ["ignore", "pipe", "ignore"] });
        children.push(parent);
        const [printed] = (await once(parent.stdout as NodeJS.ReadableStream, "data")) as [Buffer];
        const pid = Number(printed.toString().trim());
        let state = processStat(pid)?.state;
        while (state !== undefined && state !== "Z") {
          await sleep(10);
          state = processStat(pid)?.state;
        }
        if (state === "Z") return { parent, pid };
        parent.kill("SIGKILL");
      }
    }

    it("is gone when its process has exited but was never reaped by its parent (a zombie)", async () => {
      const { parent, pid } = await zombie();
      expect(isGone({ pid })).toBe(true);
      expect(isGone({ pid, started: processStartTime(pid) as number })).toBe(true);
      expect(isGone({ pid: parent.pid as number, started: processStartTime(parent.pid as number) as number })).toBe(false);
    });

    it("is gone when its pid now belongs to a process that started at another moment, and not when the start times agree", async () => {
      const pid = await sleeper();
      const started = processStartTime(pid) as number;
      expect(isGone({ pid, started })).toBe(false);
      expect(isGone({ pid, started: started - 1 })).toBe(true);
      expect(isGone({ ...thisOwner(), started: (thisOwner().started as number) + 1 })).toBe(true);
    });

    it("is gone, named by its pid alone, when the pid is now a thread's id, which /proc answers for as for a process", () => {
      const thread = readdirSync("/proc/self/task").map(Number).find((id) => id !== process.pid);
      expect(thread).toBeDefined();
      expect(isGone({ pid: thread as number })).toBe(true);
      expect(isGone({ pid: process.pid })).toBe(false);
    });
  });
});
