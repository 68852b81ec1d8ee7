import { describe, it, expect, vi } from "vitest";
import { createFoundry, errorHandlingMiddleware, isSuspended, sleep, WorkflowCancelledError, type Foundry, type OperationContext } from "../../src/index.js";
import { MemoryPersistenceProvider, usePersistence, type WorkflowExecutionSnapshot } from "../../src/persistence/index.js";
import { deferred, rejectionOf } from "../support/promises.js";

describe("errorHandlingMiddleware", () => {
  it("recovers with the value onError returns, which becomes the operation's output", async () => {
    const boom = new Error("boom");
    const onError = vi.fn<(error: unknown, context: OperationContext) => unknown>(() => "fallback");
    const foundry = createFoundry("orders")
      .use(errorHandlingMiddleware(onError))
      .withOperation("fails", () => {
        throw boom;
      })
      .withOperation("next", (input: string) => `${input} used`);

    await expect(foundry.forge()).resolves.toBe("fallback used");
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]?.[0]).toBe(boom);
    expect(onError.mock.calls[0]?.[1]).toMatchObject({ index: 0, operation: { name: "fails" } });
  });

  it("fails the run with the error onError throws", async () => {
    const replacement = new Error("translated");
    const foundry = createFoundry("orders")
      .use(
        errorHandlingMiddleware(() => {
          throw replacement;
        }),
      )
      .withOperation("fails", () => {
        throw new Error("boom");
      });

    await expect(foundry.forge()).rejects.toMatchObject({ code: "OPERATION_FAILED", cause: replacement });
  });

  it("leaves successful operations alone", async () => {
    const onError = vi.fn();
    const foundry = createFoundry("orders").use(errorHandlingMiddleware(onError)).withOperation("ok", () => "fine");

    await expect(foundry.forge()).resolves.toBe("fine");
    expect(onError).not.toHaveBeenCalled();
  });

  it("throws a TypeError when onError is not a function", () => {
    expect(() => errorHandlingMiddleware(undefined as any)).toThrow("errorHandlingMiddleware(onError)");
  });
});

// The usual setup adds usePersistence last, so the handler wraps the persistence layer: what that
// layer throws to stop the run must reach the run, never onError.
describe("errorHandlingMiddleware and the errors that stop the run", () => {
  it("lets a durable wait's suspension through: onError is not called and the instance is stored waiting", async () => {
    const provider = new MemoryPersistenceProvider();
    const seen: string[] = [];
    const foundry = createFoundry("onboard", { executionId: "u-1" })
      .use(errorHandlingMiddleware((error) => void seen.push(`onError ${(error as Error).name}`)))
      .withOperation("welcome", () => "sent")
      .addOperation(sleep("cool-off", 86_400_000))
      .withOperation("activate", () => void seen.push("activate"));
    usePersistence(foundry, provider);

    expect(isSuspended(await rejectionOf(foundry.forge()))).toBe(true);
    expect(seen).toEqual([]);
    expect(provider.tryLoad("u-1", "onboard")).toMatchObject({ status: "waiting" });
  });

  it("lets a failed checkpoint through: the run rejects with PersistenceError and no further operation runs", async () => {
    class FailingCheckpoint extends MemoryPersistenceProvider {
      override save(snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal) {
        if (snapshot.nextOperationIndex === 1 && snapshot.status === "running") throw new Error("disk full");
        return super.save(snapshot, signal);
      }
    }
    const ran: string[] = [];
    const onError = vi.fn(() => "fallback");
    const foundry = createFoundry("pay", { executionId: "p-1" })
      .use(errorHandlingMiddleware(onError))
      .withOperation("charge", () => void ran.push("charge"))
      .withOperation("ship", () => void ran.push("ship"));
    usePersistence(foundry, new FailingCheckpoint());

    expect(await rejectionOf(foundry.forge())).toMatchObject({ code: "PERSISTENCE" });
    expect(ran).toEqual(["charge"]);
    expect(onError).not.toHaveBeenCalled();
  });

  it("lets a cancellation thrown by the operation through", async () => {
    const cancelled = new WorkflowCancelledError({}, "stopped by policy");
    const onError = vi.fn(() => "fallback");
    const foundry = createFoundry("orders")
      .use(errorHandlingMiddleware(onError))
      .withOperation("check", () => {
        throw cancelled;
      });

    expect(await rejectionOf(foundry.forge())).toBe(cancelled);
    expect(onError).not.toHaveBeenCalled();
  });
});

describe("errorHandlingMiddleware and an abort", () => {
  // The operation honours its signal: it rejects with the abort's reason, which is no engine error.
  const honoursSignal = (_input: unknown, _foundry: unknown, signal: AbortSignal) =>
    new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason as Error), { once: true }));
  // Resolves once operation `name` started.
  const started = (foundry: Foundry, name: string): Promise<void> => {
    const gate = deferred();
    foundry.on("operationStarted", (event) => event.operationName === name && gate.resolve());
    return gate.promise;
  };

  for (const reason of ["shutting down", undefined]) {
    it(`does not hand the abort to onError (reason ${String(reason)}): the aborted run rejects with AbortError`, async () => {
      const onError = vi.fn(() => "fallback");
      const controller = new AbortController();
      const foundry = createFoundry("orders").use(errorHandlingMiddleware(onError)).withOperation("send", honoursSignal);

      const sending = started(foundry, "send");
      const run = foundry.forge({ signal: controller.signal });
      await sending;
      controller.abort(reason);
      const error = await rejectionOf(run);
      expect(error).toMatchObject({ name: "AbortError", code: "ABORTED", operationName: "send", operationIndex: 0 });
      expect(onError).not.toHaveBeenCalled();
    });
  }

  it("leaves the snapshot to resume and the run rejected, with persistence inside it", async () => {
    const provider = new MemoryPersistenceProvider();
    const controller = new AbortController();
    const foundry = createFoundry("orders", { executionId: "o-abort" })
      .use(errorHandlingMiddleware(() => "fallback"))
      .withOperation("reserve", () => "R-1")
      .withOperation("send", honoursSignal);
    usePersistence(foundry, provider);

    const sending = started(foundry, "send");
    const run = foundry.forge({ signal: controller.signal });
    await sending;
    controller.abort("shutting down");
    await expect(run).rejects.toMatchObject({ code: "ABORTED" });
    expect(provider.tryLoad("o-abort", "orders")).toMatchObject({ status: "running", nextOperationIndex: 1 });
  });

  it("cannot make an aborted run complete through a layer of the user's that returns a value for any rejection", async () => {
    const controller = new AbortController();
    const foundry = createFoundry("orders")
      .use(async (_context, next) => next().catch(() => "fallback"))
      .withOperation("send", honoursSignal);

    const sending = started(foundry, "send");
    const run = foundry.forge({ signal: controller.signal });
    await sending;
    controller.abort("shutting down");
    await expect(run).rejects.toMatchObject({ name: "AbortError", code: "ABORTED", operationIndex: 0 });
  });
});
