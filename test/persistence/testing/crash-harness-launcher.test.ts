import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runCrashHarness } from "../../../src/persistence/testing/index.js";
import { bundleForChild } from "../../support/bundle.js";

// A command may start the workload through a launcher (here tsx's cli.mjs, which runs the script
// in a child process of its own). A kill must end the workload, not just the launcher: a
// grandchild left alive is no crash, and holds the pipes the harness reads, so that the attempt
// would never end.
const launcher = join(createRequire(import.meta.url).resolve("tsx/package.json"), "..", "dist", "cli.mjs");
const script = bundleForChild(fileURLToPath(new URL("./launched-child.ts", import.meta.url)));
const root = mkdtempSync(join(tmpdir(), "wf-harness-launcher-"));

const pidsIn = (pidFile: string): number[] => (existsSync(pidFile) ? readFileSync(pidFile, "utf8").split("\n").filter(Boolean).map(Number) : []);
// A killed process whose parent died first waits as a zombie until an init that may never reap
// it does: dead all the same, though signal 0 still reaches it.
const zombie = (pid: number): boolean => {
  try {
    return /^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false; // no /proc (not Linux), or already reaped
  }
};
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return !zombie(pid);
};
// Settles once `pid` is gone; a SIGKILLed process may take a moment to be reaped.
async function gone(pid: number): Promise<boolean> {
  for (let tries = 0; tries < 50 && alive(pid); tries++) await new Promise((resolve) => setTimeout(resolve, 20));
  return !alive(pid);
}

const started: string[] = [];
afterAll(() => {
  // Whatever a failing run left alive.
  for (const pid of started.flatMap(pidsIn)) if (alive(pid)) process.kill(pid, "SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

// From spawn, the launcher's and the bundle's start-up included: on a busy machine that alone took
// over 1.5 s, and a kill due after the run started never came.
const attemptTimeoutMs = 4_000;

function harness(name: string, options: { maxKillsPerInstance: number; killDelayMs?: () => number }) {
  const pidFile = join(root, `${name}.pids`);
  started.push(pidFile);
  const logFile = join(root, `${name}.log`);
  const report = runCrashHarness({ command: [launcher, script], env: { PID_FILE: pidFile }, logFile, instances: 1, attemptTimeoutMs, ...options });
  return { report, pids: () => pidsIn(pidFile) };
}

describe("runCrashHarness with a command that starts the workload through a launcher", () => {
  it("ends a hung workload at attemptTimeoutMs, reporting it as not finishing, and leaves no process of it alive", { timeout: 20_000 }, async () => {
    const { report, pids } = harness("hung", { maxKillsPerInstance: 0 });
    expect((await report).violations).toContainEqual(expect.stringMatching(/^crash-\S+: attempt 1 did not finish within 4000 ms \(killed\)$/));
    expect(pids()).toHaveLength(1);
    for (const pid of pids()) expect(await gone(pid)).toBe(true);
  });

  it("kills the workload itself at the random moment, not only the launcher", { timeout: 20_000 }, async () => {
    const { report, pids } = harness("killed", { maxKillsPerInstance: 1, killDelayMs: () => 100 });
    const { kills, violations } = await report;
    expect(kills).toBe(1);
    // The second attempt runs without a kill and hangs until its timeout.
    expect(violations).toContainEqual(expect.stringMatching(/^crash-\S+: attempt 2 did not finish within 4000 ms \(killed\)$/));
    expect(pids()).toHaveLength(2);
    for (const pid of pids()) expect(await gone(pid)).toBe(true);
  });
});
