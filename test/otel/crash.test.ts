import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { bundleForChild } from "../support/bundle.js";
import { runCrashChild, stepExecutions, type CrashChildOutcome } from "../support/crash-child.js";
import { readSpanFile, type SpanRecord } from "./span-file.js";

// Acceptance: a run killed with SIGKILL mid-way and resumed by another process is one trace. Each
// child writes its spans to a file as they start and end (a killed process never exports the
// spans it had not ended: its run's span and the operation in flight), and the test assembles them.

const STEPS = 6;
const child = bundleForChild(fileURLToPath(new URL("./crash-child.ts", import.meta.url)));
const root = mkdtempSync(join(tmpdir(), "wf-otel-crash-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const runChild = (dir: string, killAt: string, resume = ""): CrashChildOutcome => runCrashChild(child, dir, killAt, { SPANS_FILE: join(dir, "spans"), RESUME: resume });

/** The killed run, then its resumption in a new process: their spans, by process. */
function crashAndResume(killAt: string, resume: string): { readonly dir: string; readonly first: SpanRecord[]; readonly second: SpanRecord[] } {
  const dir = mkdtempSync(join(root, "case-"));
  const killed = runChild(dir, killAt);
  expect(killed.signal, killed.stderr).toBe("SIGKILL");
  const resumed = runChild(dir, "", resume);
  expect(resumed.status, resumed.stderr).toBe(0);
  const records = readSpanFile(join(dir, "spans"));
  const pids = [...new Set(records.map((record) => record.pid))];
  expect(pids).toHaveLength(2);
  return { dir, first: records.filter((record) => record.pid === pids[0]), second: records.filter((record) => record.pid === pids[1]) };
}

const started = (records: readonly SpanRecord[]): SpanRecord[] => records.filter((record) => record.phase === "start");
const ended = (records: readonly SpanRecord[]): SpanRecord[] => records.filter((record) => record.phase === "end");
const operationIndexes = (records: readonly SpanRecord[]): unknown[] =>
  records.filter((record) => record.name.startsWith("operation ")).map((record) => record.attributes["workflowforge.operation.index"]);
const runSpan = (records: readonly SpanRecord[]): SpanRecord => {
  const runs = started(records).filter((record) => record.name === "run CrashTrace");
  expect(runs).toHaveLength(1);
  return runs[0] as SpanRecord;
};

describe("a run killed with SIGKILL and resumed in another process", () => {
  it.each([
    { killAt: "op:3", rerun: 3, endedBeforeKill: [0, 1, 2], resume: "usePersistence" },
    { killAt: "save:2", rerun: 2, endedBeforeKill: [0, 1, 2], resume: "usePersistence" },
    { killAt: "op:3", rerun: 3, endedBeforeKill: [0, 1, 2], resume: "coordinator" },
  ])("is one trace with a span per execution of each operation, parented to its process's run (kill at $killAt, resumed by $resume)", ({ killAt, rerun, endedBeforeKill, resume }) => {
    const { dir, first, second } = crashAndResume(killAt, resume);
    const counts = stepExecutions(dir, STEPS);
    expect(counts).toEqual(counts.map((_, i) => (i === rerun ? 2 : 1)));

    // One trace.
    expect(new Set([...first, ...second].map((record) => record.traceId)).size).toBe(1);

    // The killed process: its run's span never ended; the operations it finished did.
    const firstRun = runSpan(first);
    expect(ended(first).map((record) => record.name)).not.toContain("run CrashTrace");
    expect(operationIndexes(ended(first))).toEqual(endedBeforeKill);
    expect(operationIndexes(started(first))).toEqual(Array.from({ length: rerun + 1 }, (_, i) => i));

    // The resumed process: its run is a child of the first run, and runs the rest.
    const secondRun = runSpan(second);
    expect(secondRun.parentSpanId).toBe(firstRun.spanId);
    const secondEnded = ended(second);
    expect(operationIndexes(secondEnded)).toEqual(Array.from({ length: STEPS - rerun }, (_, i) => rerun + i));
    const finishedRun = secondEnded.find((record) => record.name === "run CrashTrace");
    expect(finishedRun?.attributes["workflowforge.run.resumed"]).toBe(true);
    expect(finishedRun?.attributes["workflowforge.run.attempt"]).toBe(resume === "coordinator" ? 1 : undefined);
    expect(finishedRun?.attributes["workflowforge.run.resumed_from"]).toBe(rerun);
    expect(finishedRun?.events.filter((event) => event.name === "workflowforge.operation.skipped").map((event) => event.attributes["workflowforge.operation.index"])).toEqual(
      Array.from({ length: rerun }, (_, i) => i),
    );

    // Every execution of every operation has one span, under its own process's run; the
    // re-executed operation has two, and the second is marked.
    const allOperations = [...started(first), ...started(second)].filter((record) => record.name.startsWith("operation "));
    expect(operationIndexes(allOperations).map((index) => Number(index))).toEqual(
      counts.flatMap((count, index) => Array.from({ length: count }, () => index)).sort((a, b) => a - b),
    );
    for (const record of started(first).filter((span) => span.name.startsWith("operation "))) expect(record.parentSpanId).toBe(firstRun.spanId);
    for (const record of started(second).filter((span) => span.name.startsWith("operation "))) expect(record.parentSpanId).toBe(secondRun.spanId);
    const reruns = secondEnded.filter((record) => record.attributes["workflowforge.operation.rerun"] === true);
    expect(operationIndexes(reruns)).toEqual([rerun]);
  });
});
