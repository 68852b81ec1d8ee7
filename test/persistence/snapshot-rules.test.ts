import fc from "fast-check";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { SnapshotCorruptedError, defaultSnapshotCodec } from "../../src/persistence/index.js";
import { validateSnapshot } from "../../src/persistence/snapshot.js";
import { isTimelineText } from "../../src/persistence/timeline.js";

// Every rule of validateSnapshot, one broken field at a time, with the message it gives; the same
// through the codec, which checks what it decodes with the same rules.

const keys = { foundryExecutionId: "order-42", workflowId: "ProcessOrder-v1" };

// A snapshot with every optional field present and valid, so that each case breaks exactly one rule.
const whole = {
  formatVersion: 1,
  ...keys,
  workflowName: "ProcessOrder",
  workflowVersion: "3",
  definitionFingerprint: "fnv1a:0000000000000000",
  operationCount: 3,
  nextOperationIndex: 1,
  lastOutput: { id: 1 },
  outputs: { 0: "reserved" },
  properties: { orderId: "A-1" },
  status: "waiting",
  error: { name: "Error", message: "boom", operationIndex: 0, operationName: "reserve", stack: "Error: boom", cause: [{ name: "TypeError", message: "inner" }] },
  revision: 4,
  owner: "worker-1",
  leaseExpiresAt: "2024-01-01T00:01:00.000Z",
  attempts: 2,
  timeline: "0,4,1;4,,1;,,0",
  wakeAt: "2024-01-01T00:05:00.000Z",
  waitingFor: "approved",
  consumedEvents: ["e-1", "e-2"],
  cancelledAt: "2024-01-01T00:04:00.000Z",
  annotations: { tenant: "acme" },
  createdAt: "2024-01-01T00:00:00.000Z",
  updatedAt: "2024-01-01T00:00:01.000Z",
};

const timelineMessage = 'timeline is not "startedAt,finishedAt,executions" per operation, separated by ";"';
const manyAnnotations = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"]));

const broken: [string, Record<string, unknown>, string][] = [
  ["formatVersion 2", { formatVersion: 2 }, "unknown formatVersion 2"],
  ["a workflowName that is not a string", { workflowName: 7 }, "workflowName is not a string"],
  ["a workflowVersion that is not a string", { workflowVersion: 3 }, "workflowVersion is not a string"],
  ["a definitionFingerprint that is not a string", { definitionFingerprint: 1 }, "definitionFingerprint is not a string"],
  ["a fractional operationCount", { operationCount: 2.5 }, "operationCount is not a non-negative integer"],
  ["an operationCount given as text", { operationCount: "3" }, "operationCount is not a non-negative integer"],
  ["a negative nextOperationIndex", { nextOperationIndex: -1 }, "nextOperationIndex is not a non-negative integer"],
  ["nextOperationIndex past operationCount", { nextOperationIndex: 4 }, "nextOperationIndex is past operationCount"],
  ["properties that are an array", { properties: ["A-1"] }, "properties is not an object"],
  ["properties that are null", { properties: null }, "properties is not an object"],
  ["properties that are a Map", { properties: new Map([["orderId", "A-1"]]) }, "properties is a Map instance, not a plain object"],
  ["properties that are a Date", { properties: new Date(0) }, "properties is a Date instance, not a plain object"],
  ["outputs that are an array", { outputs: ["reserved"] }, "outputs is not an object"],
  ["an unknown status", { status: "paused" }, 'unknown status "paused"'],
  ["a status that is not a string", { status: 1 }, "unknown status 1"],
  ["a negative revision", { revision: -2 }, "revision is not a non-negative integer"],
  ["an error without its fields", { error: { message: "boom" } }, "error is not { name, message, operationIndex, operationName }"],
  ["an error with a stack too long", { error: { ...whole.error, stack: "x".repeat(4_001) } }, "error.stack is not a string of at most 4000 characters"],
  ["an error with a cause that is not a list", { error: { ...whole.error, cause: "inner" } }, "error.cause is not a list of at most 5 { name, message }"],
  ["an owner that is not a string", { owner: 42 }, "owner is not a string"],
  ["a leaseExpiresAt that is not a string", { leaseExpiresAt: 1 }, "leaseExpiresAt is not a string"],
  ["fractional attempts", { attempts: 0.5 }, "attempts is not a non-negative integer"],
  ["a timeline that is not a string", { timeline: 5 }, timelineMessage],
  ["a timeline with a word in it", { timeline: "0,10,1;15,,two" }, timelineMessage],
  ["a timeline whose entry of an operation not yet started is damaged", { timeline: "0,4,1;4,,1;,,x" }, timelineMessage],
  ["a timeline whose operations before the unstarted ones are damaged", { timeline: "0,4,1;4,,;,,0" }, timelineMessage],
  ["a timeline that is only the entries of operations not yet started, each after a ;", { timeline: ";,,0" }, timelineMessage],
  ["a wakeAt that is no instant", { wakeAt: "soon" }, "wakeAt is not an ISO-8601 instant"],
  ["a wakeAt that is a number", { wakeAt: 1_700_000_000_000 }, "wakeAt is not an ISO-8601 instant"],
  ["a waitingFor that is not a string", { waitingFor: ["approved"] }, "waitingFor is not a string"],
  ["a waiting snapshot with nothing to wait for", { wakeAt: undefined, waitingFor: undefined }, "a waiting snapshot has neither wakeAt nor waitingFor"],
  ["consumedEvents that are not a list", { consumedEvents: "e-1" }, "consumedEvents is not a list of strings"],
  ["consumedEvents holding a number", { consumedEvents: ["e-1", 2] }, "consumedEvents is not a list of strings"],
  ["a cancelledAt that is no instant", { cancelledAt: "later" }, "cancelledAt is not an ISO-8601 instant"],
  ["annotations holding a number", { annotations: { tenant: 1 } }, "annotations is not an object of at most 32 strings"],
  ["too many annotations", { annotations: manyAnnotations }, "annotations is not an object of at most 32 strings"],
  ["an annotation too long", { annotations: { tenant: "x".repeat(1_025) } }, "annotations is not an object of at most 32 strings"],
  ["a createdAt that is not a string", { createdAt: 0 }, "createdAt/updatedAt are not strings"],
  ["an updatedAt that is not a string", { updatedAt: new Date(0) }, "createdAt/updatedAt are not strings"],
];

function problemOf(value: unknown): string {
  try {
    validateSnapshot(value, keys);
  } catch (error) {
    expect(error).toBeInstanceOf(SnapshotCorruptedError);
    return (error as SnapshotCorruptedError).message;
  }
  return "accepted";
}

// The same rules on the way out of the codec: the encoder stores what it is given, the decoder refuses it.
function decodeProblemOf(value: Record<string, unknown>): string {
  const encoded = defaultSnapshotCodec.encode(value as never);
  try {
    defaultSnapshotCodec.decode(encoded, keys);
  } catch (error) {
    expect(error).toBeInstanceOf(SnapshotCorruptedError);
    return (error as SnapshotCorruptedError).message;
  }
  return "accepted";
}

describe("validateSnapshot", () => {
  it("accepts a snapshot with every optional field present and valid, and one with none of them", () => {
    expect(validateSnapshot(whole, keys)).toBe(whole);
    const bare = { ...whole, status: "running" } as Record<string, unknown>;
    for (const field of ["workflowVersion", "lastOutput", "outputs", "error", "owner", "leaseExpiresAt", "attempts", "timeline", "wakeAt", "waitingFor", "consumedEvents", "cancelledAt", "annotations"]) {
      delete bare[field];
    }
    expect(validateSnapshot(bare, keys)).toBe(bare);
    expect(defaultSnapshotCodec.decode(defaultSnapshotCodec.encode(bare as never), keys)).toStrictEqual(bare);
  });

  it.each(broken)("rejects %s, naming the rule", (_what, change, message) => {
    const value = { ...whole, ...change };
    expect(problemOf(value)).toContain(message);
    expect(decodeProblemOf(value)).toContain(message);
  });

  it("rejects properties that are a class instance, and accepts a plain object of another realm or without a prototype", () => {
    class Bag {
      orderId = "A-1";
    }
    expect(problemOf({ ...whole, properties: new Bag() })).toContain("properties is a Bag instance, not a plain object");
    expect(problemOf({ ...whole, properties: new Proxy({}, { getPrototypeOf: () => { throw new Error("trap"); } }) })).toContain("properties is a Proxy whose trap throws, not a plain object");
    expect(problemOf({ ...whole, properties: Object.assign(Object.create(null) as object, { orderId: "A-1" }) })).toBe("accepted");
    expect(problemOf({ ...whole, properties: runInNewContext("({ orderId: 'A-1' })") as object })).toBe("accepted");
  });

  it("names each required field a snapshot lacks", () => {
    const required = ["formatVersion", "foundryExecutionId", "workflowId", "workflowName", "definitionFingerprint", "operationCount", "nextOperationIndex", "properties", "status", "revision", "createdAt", "updatedAt"];
    for (const field of required) {
      expect(problemOf({ ...whole, [field]: undefined })).toContain(`it is not a snapshot: missing ${field};`);
    }
    expect(problemOf({ ...whole, status: undefined, updatedAt: undefined })).toContain("it is not a snapshot: missing status, updatedAt;");
  });

  it("reports the first broken rule in the order of the format", () => {
    expect(problemOf({ ...whole, status: "paused", formatVersion: 2 })).toContain("unknown formatVersion 2");
    expect(problemOf({ ...whole, revision: -1, owner: 1, createdAt: 0 })).toContain("revision is not a non-negative integer");
    expect(problemOf({ ...whole, timeline: "x", annotations: [] })).toContain(timelineMessage);
  });

  it("accepts a timeline whose operations after the next one did start", () => {
    expect(problemOf({ ...whole, timeline: "0,4,1;4,,1;5,6,2" })).toBe("accepted");
    expect(problemOf({ ...whole, timeline: "0,4,1;,,0;,,0" })).toBe("accepted");
  });

  it("lets a waiting snapshot wait for a time alone or for an event alone", () => {
    expect(problemOf({ ...whole, wakeAt: undefined })).toBe("accepted");
    expect(problemOf({ ...whole, waitingFor: undefined })).toBe("accepted");
  });
});

// The grammar isTimelineText holds the stored text to, written out as a regular expression.
const timelineGrammar = /^\d*,\d*,\d+(?:;\d*,\d*,\d+)*$/;

describe("isTimelineText", () => {
  it("accepts every operation's three fields, empty times included, and nothing else", () => {
    for (const text of ["0,4,1", ",,0", "0,,1;1,2,3", "12,345,6789;,,0;,,0", ",1,1", "00,00,00"]) expect(isTimelineText(text)).toBe(true);
    for (const text of ["", ",,", "1,2", "1,2,3;", ";1,2,3", "1,2,3;;4,5,6", "1,2,3,4", "1,2,", "a,b,c", "1,2,3 ", " 1,2,3", "1,2,3\n", "1,2,-3", "1.5,2,3", "１,2,3"]) {
      expect(isTimelineText(text)).toBe(false);
    }
    for (const value of [undefined, null, 5, ["0,4,1"], { timeline: "0,4,1" }]) expect(isTimelineText(value)).toBe(false);
  });

  it("agrees with the grammar on any text made of digits, commas, semicolons and a few other characters", () => {
    const text = fc.array(fc.constantFrom("0", "1", "9", ",", ";", "x", "-", ":", "/", "\u0660"), { maxLength: 40 }).map((chars) => chars.join(""));
    fc.assert(fc.property(text, (value) => isTimelineText(value) === timelineGrammar.test(value)), { numRuns: 5_000 });
  });

  it("agrees with the grammar whatever number of unstarted entries at the end it is told to expect", () => {
    expect(isTimelineText("0,4,1;4,,1;,,0;,,0", 2)).toBe(true);
    expect(isTimelineText(";,,0;,,0", 2)).toBe(false);
    expect(isTimelineText(",,0;,,0", 2)).toBe(true);
    expect(isTimelineText("0,4,x;,,0", 1)).toBe(false);
    expect(isTimelineText("0,4,1;,,0", 1_001)).toBe(true);
    const piece = fc.constantFrom("0,4,1", ",,0", "12,,1", "x", ";", ",", "0", "");
    const text = fc.tuple(fc.array(piece, { maxLength: 8 }), fc.nat(6), fc.constantFrom("", ";", ",,0", "x")).map(([head, tail, end]) => head.join(";") + ";,,0".repeat(tail) + end);
    fc.assert(fc.property(text, fc.integer({ min: -1, max: 9 }), (value, unstarted) => isTimelineText(value, unstarted) === timelineGrammar.test(value)), { numRuns: 10_000 });
  });

  it("agrees with the grammar on timelines with one character changed", () => {
    const entry = fc.tuple(fc.option(fc.nat(99_999), { nil: undefined }), fc.option(fc.nat(99_999), { nil: undefined }), fc.nat(9)).map(([started, finished, runs]) => `${started ?? ""},${finished ?? ""},${runs}`);
    const damaged = fc.tuple(fc.array(entry, { minLength: 1, maxLength: 30 }), fc.nat(), fc.constantFrom("", "0", ",", ";", "a", ";;", ",,")).map(([entries, at, with_]) => {
      const text = entries.join(";");
      const i = at % (text.length + 1);
      return text.slice(0, i) + with_ + text.slice(i + 1);
    });
    fc.assert(fc.property(damaged, (value) => isTimelineText(value) === timelineGrammar.test(value)), { numRuns: 5_000 });
  });
});
