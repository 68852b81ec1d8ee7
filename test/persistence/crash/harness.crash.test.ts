import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runCrashHarness } from "../../../src/persistence/testing/crash-harness.js";
import { bundleForChild } from "../../support/bundle.js";

// The harness that vouches for every durable provider must itself catch a broken one: here a
// provider that stores nothing, so a restart after a kill runs every step again.
const child = bundleForChild(fileURLToPath(new URL("./provider-child.ts", import.meta.url)));
const root = mkdtempSync(join(tmpdir(), "wf-harness-crash-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("runCrashHarness", () => {
  it("reports a provider that loses checkpoints: after a kill mid-run, steps run again", async () => {
    const logFile = join(root, "forgetful.log");
    const report = await runCrashHarness({
      command: [child],
      // Slow steps (20 × 60 ms) and kills spread over the run, so that several land after the second step.
      env: { CRASH_PROVIDER: "forgetful", CRASH_LOG: logFile, CRASH_STEP_DELAY_MS: "60" },
      logFile,
      instances: 4,
      concurrency: 4,
      maxKillsPerInstance: 3,
      killDelayMs: () => 400 + Math.random() * 1_000,
    });
    expect(report.midRunKills).toBeGreaterThan(0);
    expect(report.violations.filter((violation) => /ran \d+ steps again after one kill \(at most one per kill\)$/.test(violation))).not.toEqual([]);
    // Its final, unkilled attempts still complete with the right result: only the repeats are wrong.
    expect(report.violations.filter((violation) => /never completed|differs/.test(violation))).toEqual([]);
  }, 120_000);
});
