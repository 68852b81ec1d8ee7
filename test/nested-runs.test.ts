import { describe, expect, it } from "vitest";
import {
  conditional,
  createFoundry,
  createSmith,
  createWorkflow,
  delegate,
  forEach,
  ForEachChildError,
  isSuspended,
  MiddlewareError,
  OperationFailedError,
  OperationTimeoutError,
  sleep,
  timeoutMiddleware,
  WorkflowCancelledError,
  WorkflowSuspendedError,
  WorkflowTimeoutError,
} from "../src/index.js";
import { MemoryPersistenceProvider, usePersistence } from "../src/persistence/index.js";
import { deferred, rejectionOf, untilAborted } from "./support/promises.js";

// An operation may run a workflow of its own. That inner run's timeout or suspension is the
// operation's failure: the outer run compensates it like any other, and never takes it for its
// own timeout (which skips compensation) or suspension (which nothing would ever wake).

function outer(inner: () => Promise<unknown>, restored: string[]) {
  return createWorkflow("order")
    .withOperation("reserve", () => "reserved", () => void restored.push("reserve"))
    .withOperation("fulfil", inner)
    .build();
}

describe("a workflow run inside an operation", () => {
  it("whose smith times out fails that operation: the outer run rejects with OperationFailedError and compensates", async () => {
    const restored: string[] = [];
    const slowInner = createWorkflow("inner").withOperation("slow", (_input, _foundry, signal) => untilAborted(signal)).build();
    const workflow = outer(() => createSmith({ timeoutMs: 20 }).forge(slowInner, createFoundry("inner")), restored);
    const provider = new MemoryPersistenceProvider();

    const error = await rejectionOf(createSmith().forge(workflow, usePersistence(createFoundry("orders"), provider, { instanceId: "o-1" })));
    expect(error).toBeInstanceOf(OperationFailedError);
    expect(error).toMatchObject({ workflowName: "order", operationName: "fulfil", operationIndex: 1 });
    expect((error as Error).cause).toBeInstanceOf(WorkflowTimeoutError);
    expect(restored).toEqual(["reserve"]);
    expect(provider.tryLoad("o-1", workflow.id)).toBeUndefined();
  });

  it("that suspends fails that operation, rather than suspending the outer instance for a wake-up that never comes", async () => {
    const restored: string[] = [];
    const provider = new MemoryPersistenceProvider();
    const sleeper = createWorkflow("inner").addOperation(sleep("a-day", 86_400_000)).build();
    const workflow = outer(() => createSmith().forge(sleeper, usePersistence(createFoundry("inner"), provider, { instanceId: "inner-1" })), restored);
    const suspended: unknown[] = [];
    const smith = createSmith();
    smith.on("workflowSuspended", ({ error }) => void suspended.push(error));

    const error = await rejectionOf(smith.forge(workflow, usePersistence(createFoundry("orders"), provider, { instanceId: "o-2" })));
    expect(isSuspended(error)).toBe(false);
    expect(error).toBeInstanceOf(OperationFailedError);
    expect((error as Error).cause).toBeInstanceOf(WorkflowSuspendedError);
    expect(suspended).toEqual([]);
    expect(restored).toEqual(["reserve"]);
    expect(provider.tryLoad("o-2", workflow.id)).toBeUndefined();
  });

  it("the outer run's own suspension is still a suspension", async () => {
    const provider = new MemoryPersistenceProvider();
    const workflow = createWorkflow("order").withOperation("reserve", () => "reserved").addOperation(sleep("a-day", 86_400_000)).build();
    const error = await rejectionOf(createSmith().forge(workflow, usePersistence(createFoundry("orders"), provider, { instanceId: "o-3" })));
    expect(isSuspended(error)).toBe(true);
    expect(provider.tryLoad("o-3", workflow.id)).toMatchObject({ status: "waiting" });
  });

  it("of another version of the same workflow, timing out, fails the operation too: a name does not make it the outer run's", async () => {
    const restored: string[] = [];
    const inner = createWorkflow("order").withVersion("2").withOperation("slow", (_input, _foundry, signal) => untilAborted(signal)).build();
    const workflow = outer(() => createSmith({ timeoutMs: 20 }).forge(inner, createFoundry("orders-v2")), restored);
    const error = await rejectionOf(createSmith().forge(workflow, createFoundry("orders")));
    expect(error).toBeInstanceOf(OperationFailedError);
    expect((error as Error).cause).toBeInstanceOf(WorkflowTimeoutError);
    expect(restored).toEqual(["reserve"]);
  });

  it("on a bare foundry with persistence: the nested timeout is stored as the operation's failure, resumed there", async () => {
    const provider = new MemoryPersistenceProvider();
    const inner = createWorkflow("inner").withOperation("slow", (_input, _foundry, signal) => untilAborted(signal)).build();
    const foundry = usePersistence(createFoundry("orders"), provider, { instanceId: "o-4" })
      .withOperation("a", () => 1)
      .withOperation("b", () => createSmith({ timeoutMs: 20 }).forge(inner, createFoundry("inner")));
    expect(await rejectionOf(foundry.forge())).toBeInstanceOf(OperationFailedError);
    expect(provider.tryLoad("o-4", "orders")).toMatchObject({ status: "failed", nextOperationIndex: 1, error: { operationName: "b" } });
  });
});

describe("a nested run's error that would stop a run, met by an operation", () => {
  const slowInner = createWorkflow("inner").withOperation("slow", (_input, _foundry, signal) => untilAborted(signal)).build();
  const ownDeadline = () => createSmith().forge(slowInner, createFoundry("inner"), { signal: AbortSignal.timeout(20) });

  it("an abort of the inner run by a deadline signal of its own fails the operation: the outer run is compensated", async () => {
    const restored: string[] = [];
    const controller = new AbortController();
    const error = await rejectionOf(createSmith().forge(outer(ownDeadline, restored), createFoundry("orders"), { signal: controller.signal }));
    expect(controller.signal.aborted).toBe(false);
    expect(error).toBeInstanceOf(OperationFailedError);
    expect(error).toMatchObject({ operationName: "fulfil", operationIndex: 1, cause: { name: "AbortError", code: "ABORTED" } });
    expect(restored).toEqual(["reserve"]);
  });

  it("a foundry busy with another run (CONCURRENT_RUN) fails the operation: the outer run is compensated", async () => {
    const restored: string[] = [];
    const gate = deferred();
    const shared = createFoundry("shared").withOperation("work", () => gate.promise);
    const workflow = createWorkflow("order")
      .withOperation("reserve", (_input, foundry) => foundry.executionId, (id) => void restored.push(`reserve ${String(id)}`))
      .withOperation("fulfil", () => shared.forge())
      .build();
    const first = createSmith().forge(workflow, createFoundry("orders", { executionId: "A" }));
    const second = await rejectionOf(createSmith().forge(workflow, createFoundry("orders", { executionId: "B" })));
    gate.resolve();
    await first;
    expect(second).toMatchObject({ code: "OPERATION_FAILED", cause: { code: "CONCURRENT_RUN" } });
    expect(restored).toEqual(["reserve B"]);
  });

  it("a persisted inner run's failed save fails the operation, which a bare outer foundry records as its failure", async () => {
    const provider = new MemoryPersistenceProvider();
    const brokenInner = new (class extends MemoryPersistenceProvider {
      override save(): never {
        throw new Error("disk full");
      }
    })();
    const foundry = usePersistence(createFoundry("orders"), provider, { instanceId: "o-5" })
      .withOperation("a", () => 1)
      .withOperation("b", () => usePersistence(createFoundry("inner").withOperation("x", () => 2), brokenInner, { instanceId: "i-5" }).forge());
    const error = await rejectionOf(foundry.forge());
    expect(error).toMatchObject({ code: "OPERATION_FAILED", operationName: "b", cause: { code: "PERSISTENCE" } });
    expect(provider.tryLoad("o-5", "orders")).toMatchObject({ status: "failed", nextOperationIndex: 1, error: { operationName: "b" } });
  });

  it("under persistence, an inner abort is compensated and the outer snapshot deleted, not left running", async () => {
    const restored: string[] = [];
    const provider = new MemoryPersistenceProvider();
    const workflow = outer(ownDeadline, restored);
    const error = await rejectionOf(createSmith().forge(workflow, usePersistence(createFoundry("orders"), provider, { instanceId: "o-6" })));
    expect(error).toBeInstanceOf(OperationFailedError);
    expect(restored).toEqual(["reserve"]);
    expect(provider.tryLoad("o-6", workflow.id)).toBeUndefined();
  });
});

describe("where an error raised inside an operation is located", () => {
  it("a forEach nested in a conditional: at the workflow operation's index, named as what failed", async () => {
    const workflow = createWorkflow("w")
      .withOperation("first", () => true)
      .addOperation(conditional("maybe", () => true, forEach("items", [delegate("bad", () => Promise.reject(new Error("no"))) ])))
      .build();
    const error = await rejectionOf(createSmith().forge(workflow, createFoundry("f")));
    expect(error).toBeInstanceOf(ForEachChildError);
    expect(error).toMatchObject({ workflowName: "w", operationName: "items", operationIndex: 1, childName: "bad", childIndex: 0 });
  });

  it("a nested workflow's own failure: at the outer operation that ran it, in the error and in the stored failure record", async () => {
    const inner = createWorkflow("inner")
      .withOperation("x", () => {
        throw new Error("inner boom");
      })
      .build();
    const provider = new MemoryPersistenceProvider();
    const foundry = usePersistence(createFoundry("outer"), provider, { instanceId: "o-1" })
      .withOperation("reserve", () => 1)
      .withOperation("fulfil", () => createSmith().forge(inner, createFoundry("inner")));
    const error = await rejectionOf(foundry.forge());
    expect(error).toBeInstanceOf(OperationFailedError);
    expect(error).toMatchObject({ workflowName: "outer", operationName: "fulfil", operationIndex: 1, cause: { workflowName: "inner", operationName: "x", operationIndex: 0 } });
    expect(provider.tryLoad("o-1", "outer")).toMatchObject({ status: "failed", nextOperationIndex: 1, error: { operationIndex: 1, operationName: "fulfil" } });
    // Under a smith too.
    const workflow = createWorkflow("outer")
      .withOperation("reserve", () => 1)
      .withOperation("fulfil", () => createSmith().forge(inner, createFoundry("inner")))
      .build();
    expect(await rejectionOf(createSmith().forge(workflow, createFoundry("outer")))).toMatchObject({ workflowName: "outer", operationIndex: 1 });
  });

  it("a nested smith's CompensationError (a restore failed): at the outer operation, with it as the cause", async () => {
    const inner = createWorkflow("inner")
      .withOperation(
        "hold",
        () => "h",
        () => {
          throw new Error("release failed");
        },
      )
      .withOperation("x", () => {
        throw new Error("inner boom");
      })
      .build();
    const provider = new MemoryPersistenceProvider();
    const foundry = usePersistence(createFoundry("outer"), provider, { instanceId: "o-2" })
      .withOperation("reserve", () => 1)
      .withOperation("fulfil", () => createSmith({ throwOnCompensationError: true }).forge(inner, createFoundry("inner")));
    const error = await rejectionOf(foundry.forge());
    expect(error).toBeInstanceOf(OperationFailedError);
    expect(error).toMatchObject({ workflowName: "outer", operationName: "fulfil", operationIndex: 1, cause: { code: "COMPENSATION_FAILED", workflowName: "inner" } });
    expect(provider.tryLoad("o-2", "outer")).toMatchObject({ status: "failed", error: { operationIndex: 1, operationName: "fulfil" } });
  });

  it("a nested run's failure awaited again by a later attempt (memoised by idempotency key): at the outer operation each time", async () => {
    const inner = createWorkflow("inner")
      .withOperation("x", () => {
        throw new Error("inner boom");
      })
      .build();
    const once = new Map<string, Promise<unknown>>();
    const provider = new MemoryPersistenceProvider();
    const outer = () =>
      usePersistence(createFoundry("outer"), provider, { instanceId: "o-3" })
        .withOperation("reserve", () => 1)
        .withOperation("fulfil", (_input, foundry) => {
          const key = foundry.idempotencyKey();
          if (!once.has(key)) once.set(key, createSmith().forge(inner, createFoundry("inner")));
          return once.get(key);
        });
    for (let attempt = 0; attempt < 2; attempt++) {
      expect(await rejectionOf(outer().forge())).toMatchObject({ name: "OperationFailedError", workflowName: "outer", operationName: "fulfil", operationIndex: 1 });
    }
    expect(provider.tryLoad("o-3", "outer")).toMatchObject({ status: "failed", nextOperationIndex: 1, error: { operationIndex: 1, operationName: "fulfil" } });
  });

  it("one engine error a user keeps and throws from two runs at once is each run's own, not a nested run's", async () => {
    const shared = new MiddlewareError({}, "refused by policy");
    const [started, gate] = [deferred(), deferred()];
    const first = rejectionOf(
      createSmith().forge(
        createWorkflow("a")
          .withOperation("check", async () => {
            started.resolve();
            await gate.promise;
            throw shared;
          })
          .build(),
        createFoundry("a"),
      ),
    );
    await started.promise;
    const second = createWorkflow("b")
      .withOperation("check", () => {
        throw shared;
      })
      .build();
    expect(await rejectionOf(createSmith().forge(second, createFoundry("b")))).toBe(shared);
    gate.resolve();
    expect(await first).toBe(shared);
  });
});

describe("errors that pass through a nested run are still the outer run's own", () => {
  // A nested run given the operation's signal rejects with that signal's reason: the outer run's.
  const nestedOn = (signal: AbortSignal) => createFoundry("inner").withOperation("wait", (_input, _foundry, inner) => untilAborted(inner)).forge({ signal });

  it("a forEach child's failure, which aborted a sibling running a nested run", async () => {
    const workflow = createWorkflow("w")
      .addOperation(
        forEach("each", [
          delegate("nested", (_input, _foundry, signal) => nestedOn(signal)),
          delegate("fails", () => Promise.reject(new Error("boom"))),
        ]),
      )
      .build();
    expect(await rejectionOf(createSmith().forge(workflow, createFoundry("f")))).toBeInstanceOf(ForEachChildError);
  });

  it("the operation's own timeout, which aborted the nested run it was running", async () => {
    const foundry = createFoundry("f").use(timeoutMiddleware(20)).withOperation("slow", (_input, _foundry, signal) => nestedOn(signal));
    expect(await rejectionOf(foundry.forge())).toBeInstanceOf(OperationTimeoutError);
  });

  it("one engine error kept and thrown by runs of two foundries, as each threw it", async () => {
    const stop = new WorkflowCancelledError({}, "stopped by policy");
    const restored: string[] = [];
    const workflow = createWorkflow("order")
      .withOperation("reserve", () => "r", () => void restored.push("reserve"))
      .withOperation("check", () => {
        throw stop;
      })
      .build();
    for (const run of [1, 2]) expect([run, await rejectionOf(createSmith().forge(workflow, createFoundry(`orders-${run}`)))]).toEqual([run, stop]);
    expect(restored).toEqual([]);
  });

  it("a frozen engine error, left as it is", async () => {
    const frozen: MiddlewareError = Object.freeze(new MiddlewareError({ workflowName: "elsewhere" }, "frozen"));
    const foundry = createFoundry("f").withOperation("op", () => {
      throw frozen;
    });
    expect(await rejectionOf(foundry.forge())).toBe(frozen);
  });
});
