import { describe, expect, it } from "vitest";
import type { WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";
import { timelineOf } from "../../src/inspector/timeline.js";
import { describeValue } from "../../src/inspector/value.js";
import { inspectorSnapshots } from "./seed.js";

const base = inspectorSnapshots()[0] as WorkflowExecutionSnapshot;
const states = (snapshot: Partial<WorkflowExecutionSnapshot> & Record<string, unknown>) => timelineOf({ ...base, ...snapshot }).map((step) => step.state);
const error = (operationIndex: number) => ({ name: "Error", message: "boom", operationIndex, operationName: "ship" });

describe("timelineOf", () => {
  it("derives the steps from the progress and the error when the record stores no times", () => {
    expect(states({ status: "running", nextOperationIndex: 1, operationCount: 3 })).toEqual(["done", "next", "pending"]);
    expect(states({ status: "completed", nextOperationIndex: 3, operationCount: 3 })).toEqual(["done", "done", "done"]);
    expect(states({ status: "failed", nextOperationIndex: 2, operationCount: 4, error: error(2) })).toEqual(["done", "done", "failed", "pending"]);
  });

  it("while compensating, marks the steps still to restore, those restored, and the one that failed", () => {
    expect(states({ status: "compensating", nextOperationIndex: 1, operationCount: 5, error: error(3) })).toEqual(["to-restore", "restored", "restored", "failed", "pending"]);
  });

  it("reads the stored timeline: offsets after createdAt as times, none as never, and execution counts", () => {
    const createdAt = "2026-01-01T00:00:00.000Z";
    const timeline = "0,4,1;5,,2;,,0";
    const steps = timelineOf({ ...base, createdAt, operationCount: 3, nextOperationIndex: 1, timeline });
    expect(steps.map((step) => [step.startedAt, step.finishedAt, step.executions])).toEqual([
      ["2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.004Z", 1],
      ["2026-01-01T00:00:00.005Z", null, 2],
      [null, null, 0],
    ]);
  });

  it("ignores a timeline that does not describe this definition, and reads a record without one", () => {
    const short = "0,1,1";
    expect(timelineOf({ ...base, operationCount: 2, timeline: short }).map((step) => step.executions)).toEqual([null, null]);
    expect(timelineOf({ ...base, operationCount: 1 })[0]).toMatchObject({ startedAt: null, executions: null });
  });
});

describe("describeValue", () => {
  it("names circular references and bounds long strings and large collections", () => {
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(describeValue(loop)).toEqual({ t: "object", name: "Object", size: 1, entries: [["self", { t: "circular" }]] });
    expect(describeValue("x".repeat(20_001))).toMatchObject({ t: "string", truncated: 20_001 });
    const big = describeValue(Array.from({ length: 500 }, (_, i) => i));
    expect(big).toMatchObject({ t: "array", size: 500 });
    expect((big as { items: unknown[] }).items).toHaveLength(200);
  });

  it("cuts an error's message and stack at 20,000 characters, saying how long they were", () => {
    const error = new Error("m".repeat(20_001));
    error.stack = "s".repeat(30_000);
    const described = describeValue(error) as { message: string; messageTruncated?: number; stack?: string; stackTruncated?: number };
    expect([described.message.length, described.messageTruncated, described.stack?.length, described.stackTruncated]).toEqual([20_000, 20_001, 20_000, 30_000]);
    expect(describeValue(new Error("short"))).toMatchObject({ t: "error", message: "short" });
    expect(describeValue(new Error("short"))).not.toHaveProperty("messageTruncated");
  });

  it("cuts an object's key names at 20,000 characters", () => {
    const described = describeValue({ ["k".repeat(25_000)]: 1 }) as { entries: [string, unknown][] };
    expect(described.entries[0]?.[0]).toBe(`${"k".repeat(20_000)}… (25000 characters)`);
  });

  it("keeps -0, NaN and objects without a prototype", () => {
    expect([describeValue(-0), describeValue(Number.NaN)]).toEqual([{ t: "number", v: "-0" }, { t: "number", v: "NaN" }]);
    expect(describeValue(Object.create(null))).toEqual({ t: "object", name: "Object", size: 0, entries: [] });
  });
});
