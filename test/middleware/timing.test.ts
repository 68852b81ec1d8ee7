import { describe, it, expect } from "vitest";
import { createFoundry, isSuspended, sleep as wait, timingMiddleware, type OperationTiming } from "../../src/index.js";
import { MemoryPersistenceProvider, usePersistence } from "../../src/persistence/index.js";
import { rejectionOf, settle, sleep } from "../support/promises.js";
import { recordingLogger } from "../support/recording-logger.js";

describe("timingMiddleware", () => {
  it("records every operation's name, index, success and duration, including the layers inside it", async () => {
    const timings: OperationTiming[] = [];
    const foundry = createFoundry("orders")
      .use(timingMiddleware((timing) => timings.push(timing)))
      .use(async (_context, next) => {
        await sleep(15);
        return next();
      })
      .withOperation("a", () => 1)
      .withOperation("b", () => 2);

    await foundry.forge();
    expect(timings.map(({ operationName, index, ok }) => ({ operationName, index, ok }))).toEqual([
      { operationName: "a", index: 0, ok: true },
      { operationName: "b", index: 1, ok: true },
    ]);
    for (const { durationMs } of timings) expect(durationMs).toBeGreaterThanOrEqual(10);
  });

  it("records a failed operation with ok false and lets the error through", async () => {
    const timings: OperationTiming[] = [];
    const foundry = createFoundry("orders")
      .use(timingMiddleware((timing) => timings.push(timing)))
      .withOperation("fails", () => {
        throw new Error("boom");
      });

    await expect(foundry.forge()).rejects.toMatchObject({ code: "OPERATION_FAILED" });
    expect(timings).toEqual([{ operationName: "fails", index: 0, ok: false, durationMs: expect.any(Number) }]);
  });

  it("records no timing for an operation whose run stopped to wait: a suspension is not a failure", async () => {
    const timings: OperationTiming[] = [];
    const foundry = createFoundry("onboard", { executionId: "u-3" })
      .use(timingMiddleware((timing) => timings.push(timing)))
      .withOperation("welcome", () => "sent")
      .addOperation(wait("cool-off", 86_400_000));
    usePersistence(foundry, new MemoryPersistenceProvider());

    expect(isSuspended(await rejectionOf(foundry.forge()))).toBe(true);
    expect(timings.map(({ operationName, ok }) => ({ operationName, ok }))).toEqual([{ operationName: "welcome", ok: true }]);
  });

  it("passes the operation's context to record", async () => {
    const names: string[] = [];
    const foundry = createFoundry("orders")
      .use(timingMiddleware((_timing, context) => names.push(`${context.run.workflow.name}/${context.operation.name}`)))
      .withOperation("a", () => 1);

    await foundry.forge();
    expect(names).toEqual(["orders/a"]);
  });

  it("throws a TypeError when record is not a function", () => {
    expect(() => timingMiddleware("nope" as any)).toThrow(TypeError);
  });
});

describe("timingMiddleware with a record that fails", () => {
  it("logs a record that throws or rejects, and the operation keeps its outcome: a metrics client that is down charges nobody twice", async () => {
    const logger = recordingLogger();
    const metricsDown = new Error("metrics client down");
    const charged: string[] = [];
    const foundry = createFoundry("orders", { logger })
      .use(
        timingMiddleware((timing) => {
          if (timing.index === 0) throw metricsDown;
          return Promise.reject(metricsDown) as unknown as void;
        }),
      )
      .withOperation("reserve", () => (charged.push("reserve"), "R-1"))
      .withOperation("charge", () => (charged.push("charge"), "ch_1"));

    await expect(foundry.forge()).resolves.toBe("ch_1");
    await settle();
    expect(charged).toEqual(["reserve", "charge"]);
    expect(logger.error.mock.calls).toEqual([
      ['timingMiddleware: record threw for orders #0 "reserve"', metricsDown],
      ['timingMiddleware: record threw for orders #1 "charge"', metricsDown],
    ]);
  });
});
