import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { bundleForChild } from "../../support/bundle.js";
import { JsonFileProvider } from "./json-file-provider.js";

const STEPS = 10;
const child = bundleForChild(fileURLToPath(new URL("./child.ts", import.meta.url)));
const root = mkdtempSync(join(tmpdir(), "wf-crash-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Outcome {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

function runChild(dir: string, killAt: string): Outcome {
  const env = { ...process.env, STORE_DIR: join(dir, "store"), LOG_FILE: join(dir, "log"), RESULT_FILE: join(dir, "result.json"), KILL_AT: killAt };
  const { status, signal, stderr } = spawnSync(process.execPath, [child], { env, encoding: "utf8", timeout: 30_000 });
  return { status, signal, stderr };
}

function executions(dir: string): number[] {
  const counts = new Array<number>(STEPS).fill(0);
  for (const line of readFileSync(join(dir, "log"), "utf8").split("\n").filter(Boolean)) counts[Number(line)]! += 1;
  return counts;
}

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
