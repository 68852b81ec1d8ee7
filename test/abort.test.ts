import { describe, it, expect, vi } from "vitest";
import { createFoundry, createSmith, createWorkflow, timeoutMiddleware, WorkflowAbortedError, type OperationContext } from "../src/index.js";
import { MemoryPersistenceProvider, usePersistence, type WorkflowPersistenceProvider } from "../src/persistence/index.js";
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

describe("abort with a reason that is an engine error of another run", () => {
  it("rejects with AbortError naming this run's operation, the other run's failure as its cause, and compensates nothing", async () => {
    // The fail-fast siblings pattern: otherRun.catch((error) => controller.abort(error)).
    const sibling = await createFoundry("Sibling")
      .withOperation("x", () => {
        throw new Error("boom");
      })
      .forge()
      .catch((error: unknown) => error);
    expect(sibling).toMatchObject({ code: "OPERATION_FAILED", workflowName: "Sibling" });

    const restored: string[] = [];
    const controller = new AbortController();
    const charging = deferred();
    const workflow = createWorkflow("Order")
      .withOperation("reserve", () => "R-1", () => void restored.push("reserve"))
      .withOperation("charge", (_input: unknown, _foundry, signal) => {
        charging.resolve();
        return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason as Error), { once: true }));
      })
      .build();
    const run = createSmith().forge(workflow, createFoundry("Order"), { signal: controller.signal }).catch((error: unknown) => error);
    await charging.promise;
    controller.abort(sibling);

    const error = await run;
    expect(error).toBeInstanceOf(WorkflowAbortedError);
    expect(error).toMatchObject({ name: "AbortError", code: "ABORTED", workflowName: "Order", operationName: "charge", operationIndex: 1, cause: sibling });
    expect(restored).toEqual([]);
  });

  it("still rejects with the library's own reasons as they are: a smith's timeout, an operation's timeout", async () => {
    const hang = (_input: unknown, _foundry: unknown, signal: AbortSignal) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason as Error), { once: true }));
    const workflow = createWorkflow("Slow").withOperation("wait", hang).build();
    await expect(createSmith({ timeoutMs: 20 }).forge(workflow, createFoundry("Slow"))).rejects.toMatchObject({ code: "WORKFLOW_TIMEOUT" });
    const timed = createFoundry("Slow").use(timeoutMiddleware(20)).withOperation("wait", hang);
    await expect(timed.forge()).rejects.toMatchObject({ code: "OPERATION_TIMEOUT", operationName: "wait" });
  });
});

describe("abort with reasons that are no Error", () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  // A null-prototype object that JSON cannot write and String() cannot convert.
  const bare = Object.create(null) as Record<string, unknown>;
  bare.self = bare;
  const reasons: Record<string, unknown> = { undefined, string: "stop", number: 42, null: null, frozen: Object.freeze({ why: "x" }), cyclic, bare, symbol: Symbol("s"), bigint: 10n };

  for (const [label, reason] of Object.entries(reasons)) {
    it(`rejects with AbortError whose cause is the reason (${label})`, async () => {
      const controller = new AbortController();
      controller.abort(reason);
      const error = await createFoundry("W").withOperation("a", () => 1).forge({ signal: controller.signal }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowAbortedError);
      // abort() without a reason aborts with a DOMException of its own.
      expect((error as Error).cause).toBe(controller.signal.reason);
    });
  }

  it("names a reason it cannot write as text by its tag", async () => {
    const controller = new AbortController();
    controller.abort(bare);
    const error = await createFoundry("W").withOperation("a", () => 1).forge({ signal: controller.signal }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('workflow "W", operation "a" (#0) was aborted: [object Object]');
  });
});

describe("an abort that lands as the last operation's record is deleted", () => {
  it("leaves the completed run resolved: there is no snapshot left to resume, so a rejection would start it over", async () => {
    const memory = new MemoryPersistenceProvider();
    const controller = new AbortController();
    const provider: WorkflowPersistenceProvider = {
      capabilities: { compareAndSet: true },
      save: (snapshot) => memory.save(snapshot),
      tryLoad: (instance, workflow) => memory.tryLoad(instance, workflow),
      delete: (instance, workflow) => {
        memory.delete(instance, workflow);
        controller.abort(new Error("shutting down"));
        return Promise.resolve();
      },
    };
    const charges: string[] = [];
    const foundry = usePersistence(createFoundry("Pay", { executionId: "p-1" }), provider).withOperation("charge", () => (charges.push("ch_1"), "charged"));

    await expect(foundry.forge({ signal: controller.signal })).resolves.toBe("charged");
    expect(memory.tryLoad("p-1", "Pay")).toBeUndefined();
    expect(charges).toEqual(["ch_1"]);
  });

  it("rejects when the abort came first and a layer outside persistence returned a value for the refused checkpoint: the record still says to run it", async () => {
    const provider = new MemoryPersistenceProvider();
    const controller = new AbortController();
    const charges: string[] = [];
    const foundry = usePersistence(
      createFoundry("Pay", { executionId: "p-2" }).use(async (_context, next) => next().catch(() => "fallback")),
      provider,
    )
      .withOperation("reserve", () => "R-1")
      .withOperation("charge", () => {
        controller.abort(new Error("shutting down")); // the shutdown lands while the charge runs, which completes
        charges.push("ch_1");
        return "charged";
      });

    await expect(foundry.forge({ signal: controller.signal })).rejects.toMatchObject({ name: "AbortError", code: "ABORTED" });
    expect(provider.tryLoad("p-2", "Pay")).toMatchObject({ status: "running", nextOperationIndex: 1 });
  });
});
