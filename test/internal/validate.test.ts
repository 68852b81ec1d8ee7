import { describe, it, expect } from "vitest";
import { maxTimerMs, requireDelayMs, requireNonNegativeInteger, requirePositiveInteger, requireTimerMs } from "../../src/internal/validate.js";

describe("count checks", () => {
  it.each([2 ** 53, 1e300, -(2 ** 53)])("reject %s, past the integers a number holds exactly, with a TypeError naming the count", (value) => {
    expect(() => requirePositiveInteger(value, "options.concurrency")).toThrow(/options\.concurrency must be a positive integer up to 9007199254740991/);
    expect(() => requireNonNegativeInteger(value, "delay ms")).toThrow(/delay ms must be a non-negative integer up to 9007199254740991/);
  });

  it("accept the largest safe integer", () => {
    expect(requirePositiveInteger(Number.MAX_SAFE_INTEGER, "n")).toBe(Number.MAX_SAFE_INTEGER);
    expect(requireNonNegativeInteger(0, "n")).toBe(0);
  });
});

describe("timer durations", () => {
  it("accept up to the longest timer Node.js keeps", () => {
    expect(maxTimerMs).toBe(2 ** 31 - 1);
    expect(requireTimerMs(maxTimerMs, "ttlMs")).toBe(maxTimerMs);
    expect(requireTimerMs(0.5, "ttlMs")).toBe(0.5);
    expect(requireDelayMs(0, "delayMs")).toBe(0);
    expect(requireDelayMs(maxTimerMs, "delayMs")).toBe(maxTimerMs);
  });

  it.each([0, -1, 2 ** 31, 1e16, Number.NaN, Number.POSITIVE_INFINITY, null, "1000"])("rejects %s as a timer duration with a TypeError naming it", (value) => {
    expect(() => requireTimerMs(value, "options.ttlMs")).toThrow(TypeError);
    expect(() => requireTimerMs(value, "options.ttlMs")).toThrow(/options\.ttlMs must be a positive number of milliseconds/);
  });

  it.each([-1, 2 ** 31, Number.NaN, null])("rejects %s as a delay with a TypeError naming it", (value) => {
    expect(() => requireDelayMs(value, "delayMs")).toThrow(/delayMs must be a non-negative number of milliseconds/);
  });
});
