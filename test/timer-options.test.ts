import { describe, expect, it } from "vitest";
import { createSmith, delay, timeoutMiddleware } from "../src/index.js";
import { MemoryPersistenceProvider, createRecoveryCoordinator, createSnapshotCodec } from "../src/persistence/index.js";

// Node fires a timer longer than 2^31 - 1 ms after 1 ms: such a duration must be refused where it is given.
const tooLong = 2 ** 31;

describe("durations that end up in a timer are bounded at the call that gives them", () => {
  it("refuses a smith timeout over 2^31 - 1 ms", () => {
    expect(() => createSmith({ timeoutMs: tooLong })).toThrow(/createSmith\(options\)\.timeoutMs must be a positive number of milliseconds up to 2147483647/);
  });

  it("refuses a timeout middleware over 2^31 - 1 ms", () => {
    expect(() => timeoutMiddleware(tooLong)).toThrow(/timeoutMiddleware\(ms\)/);
  });

  it("refuses a delay over 2^31 - 1 ms and accepts zero", () => {
    expect(() => delay("wait", tooLong)).toThrow(/delay "wait": ms/);
    expect(delay("now", 0).name).toBe("now");
  });

  it("refuses retry delays and a lease over 2^31 - 1 ms, naming the coordinator's option", () => {
    const provider = new MemoryPersistenceProvider();
    const base = { provider, resolveWorkflow: () => undefined };
    expect(() => createRecoveryCoordinator({ ...base, leaseTtlMs: 1e16 })).toThrow(/createRecoveryCoordinator\(options\): options\.leaseTtlMs/);
    expect(() => createRecoveryCoordinator({ ...base, retry: { baseDelayMs: tooLong } })).toThrow(/baseDelayMs/);
    expect(() => createRecoveryCoordinator({ ...base, retry: { maxDelayMs: tooLong } })).toThrow(/maxDelayMs/);
  });

  it("refuses a close deadline over 2^31 - 1 ms", async () => {
    const coordinator = createRecoveryCoordinator({ provider: new MemoryPersistenceProvider(), resolveWorkflow: () => undefined });
    await expect(coordinator.close({ timeoutMs: tooLong })).rejects.toThrow(/coordinator\.close\(options\): options\.timeoutMs/);
  });
});

describe("an option given as null is a mistake, not the default", () => {
  it("rejects maxSnapshotBytes: null with a TypeError naming it; only undefined means the default", () => {
    expect(() => createSnapshotCodec({ maxSnapshotBytes: null as never })).toThrow(/maxSnapshotBytes must be a positive integer or Infinity, got null/);
    expect(() => createSnapshotCodec({ maxSnapshotBytes: undefined as never })).not.toThrow();
  });
});
