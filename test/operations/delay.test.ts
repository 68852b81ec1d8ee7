import { describe, it, expect, vi, afterEach } from "vitest";
import { createFoundry, delay, WorkflowAbortedError } from "../../src/index.js";
import { createTestClock } from "../../src/persistence/testing/index.js";
import { settledWithin } from "../support/promises.js";

describe("delay", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("waits ms milliseconds and then passes its input through", async () => {
    vi.useFakeTimers();
    const foundry = createFoundry("wait").addOperation(delay("pause", 1_000));
    let settled = false;
    const run = foundry.forge({ input: "payload" }).then((output) => {
      settled = true;
      return output;
    });

    await vi.advanceTimersByTimeAsync(999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await expect(run).resolves.toBe("payload");
  });

  it("waits on the foundry's clock: a test clock lets a minute's delay pass at once, and moves on by it", async () => {
    const clock = createTestClock(0);
    const foundry = createFoundry("wait", { clock }).addOperation(delay("backoff", 60_000));
    expect(await settledWithin(foundry.forge({ input: "payload" }), 5_000)).toEqual({ value: "payload" });
    expect(clock.now()).toBe(60_000);
  });

  it("rejects with AbortError as soon as the run aborts", async () => {
    const controller = new AbortController();
    const run = createFoundry("wait").addOperation(delay("pause", 60_000)).forge({ signal: controller.signal });
    controller.abort();

    const outcome = await settledWithin(run, 500);
    expect(outcome).not.toBe("pending");
    const { error } = outcome as { error: unknown };
    expect(error).toBeInstanceOf(WorkflowAbortedError);
    expect(error).toMatchObject({ name: "AbortError", operationName: "pause", operationIndex: 0 });
  });

  it("rejects at once when its signal is already aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    const operation = delay("pause", 60_000);

    const outcome = await settledWithin(Promise.resolve(operation.forge("x", createFoundry("wait"), controller.signal)), 500);
    expect(outcome).toMatchObject({ error: { name: "AbortError" } });
  });

  it.each([
    ["a negative ms", () => delay("pause", -1)],
    ["a fractional ms", () => delay("pause", 1.5)],
    ["an empty name", () => delay("", 1)],
  ])("throws a TypeError for %s", (_, call) => {
    expect(call).toThrow(TypeError);
  });

  it("refuses a delay past the timer's limit naming that limit, and a fraction as not whole", () => {
    expect(() => delay("pause", 1e20)).toThrow(/must be a non-negative number of milliseconds up to 2147483647 \(about 24\.8 days\)/);
    expect(() => delay("pause", 2_147_483_648)).toThrow(/up to 2147483647/);
    expect(() => delay("pause", 1.5)).toThrow(/ms must be a whole number of milliseconds, got 1\.5/);
  });
});
