import { describe, expect, it } from "vitest";
import { createTestClock } from "../../../src/persistence/testing/index.js";

// The last instant a Date can hold: 100,000,000 days after the epoch.
const lastValidMs = 8.64e15;

describe("createTestClock", () => {
  it("refuses advance(ms) past the last valid date and keeps its time", () => {
    const clock = createTestClock(0);
    expect(() => clock.advance(1e300)).toThrow(TypeError);
    expect(() => clock.advance(1e300)).toThrow(/testClock\.advance\(ms\).*last valid date/);
    expect(clock.now()).toBe(0);
    expect(new Date(clock.now()).toISOString()).toBe("1970-01-01T00:00:00.000Z");
  });

  it("advances to exactly the last valid date", () => {
    const clock = createTestClock(0);
    clock.advance(lastValidMs);
    expect(new Date(clock.now()).toISOString()).toBe("+275760-09-13T00:00:00.000Z");
  });

  it("rejects a sleep(ms) past the last valid date without moving the time", async () => {
    const clock = createTestClock(0);
    await expect(clock.sleep(1e300, new AbortController().signal)).rejects.toThrow(/testClock\.sleep\(ms\).*last valid date/);
    expect(clock.now()).toBe(0);
  });

  it("wakes concurrent sleeps in order of wake time, each at its own wake time", async () => {
    const clock = createTestClock(0);
    const { signal } = new AbortController();
    const woke: string[] = [];
    await Promise.all([
      clock.sleep(1000, signal).then(() => woke.push(`long at ${clock.now()}`)),
      clock.sleep(10, signal).then(() => woke.push(`short at ${clock.now()}`)),
    ]);
    expect(woke).toEqual(["short at 10", "long at 1000"]);
    expect(clock.now()).toBe(1000);
  });

  it("lets a sleeper woken first sleep again before a later wake time", async () => {
    const clock = createTestClock(0);
    const { signal } = new AbortController();
    const woke: string[] = [];
    const short = async (): Promise<void> => {
      await clock.sleep(10, signal);
      woke.push(`first at ${clock.now()}`);
      await clock.sleep(10, signal);
      woke.push(`second at ${clock.now()}`);
    };
    await Promise.all([clock.sleep(1000, signal).then(() => woke.push(`long at ${clock.now()}`)), short()]);
    expect(woke).toEqual(["first at 10", "second at 20", "long at 1000"]);
  });

  it("does not move the time back for a sleeper whose wake time advance() passed", async () => {
    const clock = createTestClock(0);
    const sleeping = clock.sleep(10, new AbortController().signal).then(() => clock.now());
    clock.advance(500);
    await expect(sleeping).resolves.toBe(500);
  });

  it("rejects an aborted sleep with the signal's reason and leaves the time where it was", async () => {
    const clock = createTestClock(0);
    const controller = new AbortController();
    const sleeping = clock.sleep(1000, controller.signal);
    controller.abort(new Error("stop"));
    await expect(sleeping).rejects.toThrow("stop");
    expect(clock.now()).toBe(0);
  });

  it("rejects a sleep whose signal has already aborted", async () => {
    const clock = createTestClock(0);
    await expect(clock.sleep(10, AbortSignal.abort(new Error("gone")))).rejects.toThrow("gone");
    expect(clock.now()).toBe(0);
  });
});
