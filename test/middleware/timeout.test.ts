import { describe, it, expect, vi } from "vitest";
import { createFoundry, createSmith, createWorkflow, timeoutMiddleware, OperationTimeoutError } from "../../src/index.js";
import { deferred, untilAborted } from "../support/promises.js";

describe("timeoutMiddleware", () => {
  it("aborts the operation's signal and rejects with OperationTimeoutError naming the operation", async () => {
    let signal: AbortSignal | undefined;
    const foundry = createFoundry("orders")
      .use(timeoutMiddleware(20))
      .withOperation("fast", () => "ok")
      .withOperation("hangs", (_input, _foundry, s) => {
        signal = s;
        return untilAborted(s);
      });

    const error: unknown = await foundry.forge().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationTimeoutError);
    expect(error).toMatchObject({ code: "OPERATION_TIMEOUT", timeoutMs: 20, workflowName: "orders", operationName: "hangs", operationIndex: 1 });
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe(error);
  });

  it("rejects with OperationTimeoutError even when the operation ignores its signal", async () => {
    const release = deferred<string>();
    const later = vi.fn();
    const foundry = createFoundry("orders").use(timeoutMiddleware(20)).withOperation("ignores", () => release.promise).withOperation("later", later);

    await expect(foundry.forge()).rejects.toBeInstanceOf(OperationTimeoutError);
    expect(later).not.toHaveBeenCalled();
    release.resolve("too late");
  });

  it("passes the output of an operation that finishes in time and leaves its signal alone", async () => {
    let signal: AbortSignal | undefined;
    const foundry = createFoundry("orders")
      .use(timeoutMiddleware(30))
      .withOperation("quick", (_input, _foundry, s) => {
        signal = s;
        return "done";
      });

    await expect(foundry.forge()).resolves.toBe("done");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(signal?.aborted).toBe(false);
  });

  it("still aborts the operation's signal when the run's own signal aborts", async () => {
    const controller = new AbortController();
    let signal: AbortSignal | undefined;
    const foundry = createFoundry("orders")
      .use(timeoutMiddleware(60_000))
      .withOperation("hangs", (_input, _foundry, s) => {
        signal = s;
        return untilAborted(s);
      });

    const run = foundry.forge({ signal: controller.signal });
    controller.abort();
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
    expect(signal?.aborted).toBe(true);
  });

  it("is compensated like any other failure under a smith", async () => {
    const restore = vi.fn();
    const foundry = createFoundry("orders").use(timeoutMiddleware(20));
    const workflow = createWorkflow("order")
      .withOperation("reserve", () => "R-1", restore)
      .withOperation("hangs", (_input, _foundry, signal) => untilAborted(signal))
      .build();

    await expect(createSmith().forge(workflow, foundry)).rejects.toBeInstanceOf(OperationTimeoutError);
    expect(restore).toHaveBeenCalledWith("R-1", foundry, expect.any(AbortSignal));
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])("throws a TypeError for ms = %s", (ms) => {
    expect(() => timeoutMiddleware(ms)).toThrow("timeoutMiddleware(ms)");
  });
});
