import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCrashHarness, type CrashHarnessOptions } from "../../../src/persistence/testing/index.js";

// Every option is checked before a child starts: a bad one is a TypeError naming it, never a
// report that passes having run nothing. The script is one no test runs: a check that let an
// option through would start it and fail differently.
const root = mkdtempSync(join(tmpdir(), "wf-harness-options-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const valid: CrashHarnessOptions = { command: [join(root, "never-run.mjs")], logFile: join(root, "crash.log"), instances: 1 };

describe("runCrashHarness options", () => {
  it.each([
    ["instances", { instances: Number.NaN }, /^runCrashHarness\(options\): instances must be a positive integer/],
    ["instances", { instances: undefined }, /^runCrashHarness\(options\): instances must be a positive integer/],
    ["instances", { instances: 0 }, /^runCrashHarness\(options\): instances must be a positive integer/],
    ["instances", { instances: 1.5 }, /^runCrashHarness\(options\): instances must be a positive integer/],
    ["concurrency", { concurrency: Number.NaN }, /^runCrashHarness\(options\): concurrency must be a positive integer/],
    ["concurrency", { concurrency: 0 }, /^runCrashHarness\(options\): concurrency must be a positive integer/],
    ["steps", { steps: 0 }, /^runCrashHarness\(options\): steps must be a positive integer/],
    ["steps", { steps: Number.POSITIVE_INFINITY }, /^runCrashHarness\(options\): steps must be a positive integer/],
    ["maxKillsPerInstance", { maxKillsPerInstance: -1 }, /^runCrashHarness\(options\): maxKillsPerInstance must be a non-negative integer/],
    ["maxKillsPerInstance", { maxKillsPerInstance: Number.NaN }, /^runCrashHarness\(options\): maxKillsPerInstance must be a non-negative integer/],
    ["attemptTimeoutMs", { attemptTimeoutMs: 0 }, /^runCrashHarness\(options\): attemptTimeoutMs must be a positive number of milliseconds/],
    ["attemptTimeoutMs", { attemptTimeoutMs: 2 ** 31 }, /^runCrashHarness\(options\): attemptTimeoutMs must be a positive number of milliseconds/],
    ["command", { command: [] }, /^runCrashHarness\(options\): command must be a non-empty array of non-empty strings/],
    ["command", { command: "child.mjs" }, /^runCrashHarness\(options\): command must be a non-empty array of non-empty strings/],
    ["command", { command: ["child.mjs", 3] }, /^runCrashHarness\(options\): command must be a non-empty array of non-empty strings/],
    ["logFile", { logFile: "" }, /^runCrashHarness\(options\): logFile must be a non-empty string/],
    ["env", { env: { STORE_DIR: 3 } }, /^runCrashHarness\(options\): env must be an object of strings/],
    ["killDelayMs", { killDelayMs: 100 }, /^runCrashHarness\(options\): killDelayMs must be a function/],
  ])("rejects a bad %s with a TypeError naming it: %o", async (_name, change, message) => {
    const options = { ...valid, ...change } as unknown as CrashHarnessOptions;
    const run = runCrashHarness(options);
    await expect(run).rejects.toThrow(TypeError);
    await expect(run).rejects.toThrow(message);
  });

  it("rejects an unknown option, so that a misspelt one does not fall back to its default", async () => {
    const options = { ...valid, attemptTimeout: 500 } as unknown as CrashHarnessOptions;
    await expect(runCrashHarness(options)).rejects.toThrow(/^runCrashHarness\(options\): unknown option "attemptTimeout"/);
  });

  it("rejects options that are not an object", async () => {
    await expect(runCrashHarness(undefined as unknown as CrashHarnessOptions)).rejects.toThrow(/^runCrashHarness\(options\) must be an object/);
  });
});
