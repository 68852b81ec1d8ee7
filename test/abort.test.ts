import { describe, it, expect, vi } from "vitest";
import { createFoundry, WorkflowAbortedError, type OperationContext } from "../src/index.js";
import { deferred } from "./support/promises.js";

describe("abort", () => {
  it("rejects with AbortError and starts no operation when the signal is aborted before the run", async () => {
    const forge = vi.fn();
    const middleware = vi.fn((_context: OperationContext, next: () => Promise<unknown>) => next());
    const controller = new AbortController();
    controller.abort(new Error("user cancelled"));
    const foundry = createFoundry("abort").use(middleware).withOperation("op", forge);

    const error: unknown = await foundry.forge({ signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowAbortedError);
    expect(error).toMatchObject({ name: "AbortError", code: "ABORTED" });
    expect((error as Error).cause).toBe(controller.signal.reason);
    expect(forge).not.toHaveBeenCalled();
    expect(middleware).not.toHaveBeenCalled();
  });

  it("rejects with AbortError when the signal is aborted before a run with no operations", async () => {
    const controller = new AbortController();
    controller.abort(new Error("user cancelled"));
    const error: unknown = await createFoundry("empty").forge({ signal: controller.signal, input: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowAbortedError);
    expect((error as Error).cause).toBe(controller.signal.reason);
  });

  it("starts no operation after the signal aborts during a run, even if the running one ignores it", async () => {
    const controller = new AbortController();
    const release = deferred<string>();
    const slow = vi.fn(() => release.promise);
    const second = vi.fn();
    const foundry = createFoundry("abort").withOperation("slow", slow).withOperation("second", second);

    const run = foundry.forge({ signal: controller.signal });
    await vi.waitFor(() => expect(slow).toHaveBeenCalled());
    controller.abort();
    release.resolve("finished anyway");

    const error: unknown = await run.catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "AbortError", code: "ABORTED", operationIndex: 1, operationName: "second" });
    expect(second).not.toHaveBeenCalled();
  });

  it("starts no operation when the signal aborts while a middleware is still working before it", async () => {
    const controller = new AbortController();
    const gate = deferred();
    const forge = vi.fn();
    const foundry = createFoundry("abort")
      .use(async (_context, next) => {
        await gate.promise;
        return next();
      })
      .withOperation("op", forge);

    const run = foundry.forge({ signal: controller.signal });
    controller.abort();
    gate.resolve();
    await expect(run).rejects.toMatchObject({ name: "AbortError", operationName: "op", operationIndex: 0 });
    expect(forge).not.toHaveBeenCalled();
  });

  it("rejects with AbortError when the running operation rejects because its signal aborted", async () => {
    const controller = new AbortController();
    const foundry = createFoundry("abort").withOperation(
      "waits",
      (_input, _foundry, signal) =>
        new Promise((_, reject) => {
          signal.addEventListener("abort", () => reject(new Error("stopped")));
        }),
    );

    const run = foundry.forge({ signal: controller.signal });
    controller.abort();
    await expect(run).rejects.toMatchObject({ name: "AbortError", operationName: "waits", operationIndex: 0 });
  });
});
