import { describe, it, expect } from "vitest";
import { createFoundry, isSuspended, sleep as wait, timingMiddleware, type OperationTiming } from "../../src/index.js";
import { MemoryPersistenceProvider, usePersistence } from "../../src/persistence/index.js";
import { rejectionOf, sleep } from "../support/promises.js";

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
