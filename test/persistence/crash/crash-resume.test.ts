import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { bundleForChild } from "../../support/bundle.js";
import { runCrashChild, stepExecutions, type CrashChildOutcome } from "../../support/crash-child.js";
import { JsonFileProvider } from "./json-file-provider.js";

const STEPS = 10;
const child = bundleForChild(fileURLToPath(new URL("./child.ts", import.meta.url)));
const root = mkdtempSync(join(tmpdir(), "wf-crash-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const runChild = (dir: string, killAt: string): CrashChildOutcome => runCrashChild(child, dir, killAt);
const executions = (dir: string): number[] => stepExecutions(dir, STEPS);

function result(dir: string): unknown {
  return JSON.parse(readFileSync(join(dir, "result.json"), "utf8"));
}

const uninterrupted = (() => {
  const dir = mkdtempSync(join(root, "clean-"));
  const outcome = runChild(dir, "");
  if (outcome.status !== 0) throw new Error(`the uninterrupted run failed: ${outcome.stderr}`);
  return { result: result(dir), executions: executions(dir) };
})();

// Every operation boundary: inside operation k before its checkpoint, and right after it.
const boundaries = [
  ...Array.from({ length: STEPS }, (_, k) => ({ killAt: `op:${k}`, rerun: k })),
  ...Array.from({ length: STEPS - 1 }, (_, k) => ({ killAt: `saved:${k}`, rerun: -1 })),
];

describe("crash and resume in a child process killed with SIGKILL", () => {
  it("runs each operation exactly once without a crash", () => {
    expect(uninterrupted.executions).toEqual(new Array(STEPS).fill(1));
  });

  it.each(boundaries)("resumes after a kill at $killAt and completes like an uninterrupted run", ({ killAt, rerun }) => {
    const dir = mkdtempSync(join(root, "case-"));
    const killed = runChild(dir, killAt);
    expect(killed.signal, killed.stderr).toBe("SIGKILL");

    const resumed = runChild(dir, "");
    expect(resumed.status, resumed.stderr).toBe(0);

    const counts = executions(dir);
    // At least once everywhere; twice only for the operation whose checkpoint the kill prevented.
    expect(counts).toEqual(counts.map((_, i) => (i === rerun ? 2 : 1)));
    expect(result(dir)).toEqual(uninterrupted.result);
    expect(new JsonFileProvider(join(dir, "store")).files()).toEqual([]);
  });
});
