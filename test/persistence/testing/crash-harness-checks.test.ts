import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runCrashHarness, type CrashHarnessOptions } from "../../../src/persistence/testing/index.js";
import { bundleForChild } from "../../support/bundle.js";

// Children whose provider is wrong in a way that no kill is needed to show.
const child = bundleForChild(fileURLToPath(new URL("./crash-child.ts", import.meta.url)));
const root = mkdtempSync(join(tmpdir(), "wf-harness-checks-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function harness(flaw: string, name: string, options: Partial<CrashHarnessOptions> & { instances: number }) {
  const logFile = join(root, `${name}.log`);
  return runCrashHarness({ command: [child], env: { CRASH_FLAW: flaw, CRASH_DIR: join(root, name), CRASH_LOG: logFile }, logFile, maxKillsPerInstance: 0, ...options });
}

describe("runCrashHarness", () => {
  it("reports, per instance, a completed run that left its snapshot stored (a delete() that deletes nothing)", { timeout: 60_000 }, async () => {
    const report = await harness("keeps", "keeps", { instances: 2 });
    const left = report.violations.filter((violation) => /^crash-\S+: a run started after completion did not begin at step 0/.test(violation));
    expect(left).toHaveLength(2);
  });

  it("passes the same child when its delete() deletes", { timeout: 60_000 }, async () => {
    const report = await harness("deletes", "deletes", { instances: 2 });
    expect(report.violations).toEqual([]);
  });

  // The first attempt's delete() hangs; its kill, timed well past the 20 quick steps, lands there.
  const killedInDeletion = { instances: 1, maxKillsPerInstance: 1, killDelayMs: () => 3_000, attemptTimeoutMs: 20_000 };

  it("takes an attempt after a kill during the deletion that begins at step 0 as a new run, and that kill as not mid-run", { timeout: 60_000 }, async () => {
    const report = await harness("deletes-then-hangs", "deletes-then-hangs", killedInDeletion);
    expect(report.violations).toEqual([]);
    expect(report.kills).toBe(1);
    expect(report.instances[0]?.newRunsAfterDeletion).toBe(1);
    expect(report.midRunKills).toBe(0);
  });

  it("reports the repeats of a run resumed mid-way after a kill during the deletion (a store that lost acknowledged checkpoints)", { timeout: 60_000 }, async () => {
    const report = await harness("reverts", "reverts", killedInDeletion);
    expect(report.kills).toBe(1);
    expect(report.instances[0]?.newRunsAfterDeletion).toBe(0);
    expect(report.midRunKills).toBe(0);
    expect(report.violations).toContainEqual(expect.stringMatching(/^crash-\S+: attempt 2 ran 10 steps again after one kill \(at most one per kill\)$/));
  });

  it("reports an attempt killed by attemptTimeoutMs as one that did not finish in time, not as an exit with null", { timeout: 60_000 }, async () => {
    const report = await harness("hangs", "hangs", { instances: 1, attemptTimeoutMs: 500 });
    expect(report.violations).toContainEqual(expect.stringMatching(/^crash-\S+: attempt 1 did not finish within 500 ms \(killed\)$/));
    expect(report.violations.join("\n")).not.toContain("exited with null");
  });
});
