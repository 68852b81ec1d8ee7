import { describe, expect, it } from "vitest";
import type { WorkflowExecutionSnapshot } from "../../../src/persistence/index.js";
import { readRuns, verifyRuns, verifyStored } from "./verify-runs.js";

// The fast many-workers test relies on these checkers; here each is shown to catch what it names.
const clean = ["R a w1 a", "K a w2 claimed", "D a w1", "R b w2 b", "D b w2", "K b w1 completed"];
const check = (lines: string[]) => verifyRuns(readRuns(lines.join("\n")), ["a", "b"]);

describe("verifyRuns", () => {
  it("accepts each instance run once with its property and reported resumed once", () => {
    expect(check(clean)).toEqual([]);
  });

  it("counts skipped outcomes by reason", () => {
    expect(Object.fromEntries(readRuns(clean.join("\n")).skipped)).toEqual({ claimed: 1, completed: 1 });
  });

  it("reports an instance run again after it completed, without its enqueued property", () => {
    expect(check([...clean, "R b w1 -", "D b w1"])).toEqual(['b: the operation ran 2 times (w2, w1)', 'b: w1 ran the operation with instance property "-"', "b: reported resumed 2 times (w2, w1)"]);
  });

  it("reports an instance never run and a failed outcome", () => {
    expect(check(["R a w1 a", "D a w1", "F b w2 Error: boom"])).toEqual(["a worker reported a failure: F b w2 Error: boom", "b: the operation ran 0 times ()", "b: reported resumed 0 times ()"]);
  });

  it("reports a run of an instance that was never enqueued", () => {
    expect(check([...clean, "R c w1 c"])).toEqual(["c: logged but never enqueued"]);
  });
});

describe("verifyStored", () => {
  const record = (id: string, status: WorkflowExecutionSnapshot["status"], instance: string | undefined) =>
    ({ foundryExecutionId: id, status, properties: instance === undefined ? {} : { instance } }) as unknown as WorkflowExecutionSnapshot;

  it("accepts kept records completed with their own property, and no record after delete", () => {
    expect(verifyStored([record("a", "completed", "a")], ["a"], "keep")).toEqual([]);
    expect(verifyStored([], ["a"], "delete")).toEqual([]);
  });

  it("reports a kept record lost, unfinished or without its property", () => {
    const stored = [record("b", "failed", undefined), record("c", "completed", undefined)];
    expect(verifyStored(stored, ["a", "b", "c"], "keep")).toEqual(["a: its record was lost", 'b: stored with status failed and instance property "undefined"', 'c: stored with status completed and instance property "undefined"']);
  });

  it("reports a record left behind when completed records are deleted", () => {
    expect(verifyStored([record("a", "running", "a")], ["a"], "delete")).toEqual(["a: still stored with status running"]);
  });
});
