import { describe, it, expect, vi } from "vitest";
import {
  createFoundry,
  createSmith,
  createWorkflow,
  withRestoreData,
  CompensationError,
  OperationFailedError,
  type OperationMiddleware,
  type SmithEvents,
  type WorkflowBuilder,
} from "../src/index.js";
import { MemoryPersistenceProvider, usePersistence } from "../src/persistence/index.js";
import { deferred, rejectionOf, untilAborted } from "./support/promises.js";

const boom = new Error("card declined");
const failing = (builder: WorkflowBuilder): WorkflowBuilder =>
  builder.withOperation("fails", () => {
    throw boom;
  });

describe("compensation", () => {
  it("calls restore of completed operations in reverse order, skipping operations without restore", async () => {
    const restored: string[] = [];
    const workflow = failing(
      createWorkflow("order")
        .withOperation("a", () => "A", () => void restored.push("a"))
        .withOperation("no restore", () => "N")
        .withOperation("b", () => "B", () => void restored.push("b")),
    )
      .withOperation("never runs", () => "X", () => void restored.push("never runs"))
      .build();

    await expect(createSmith().forge(workflow, createFoundry("orders"))).rejects.toBeInstanceOf(OperationFailedError);
    expect(restored).toEqual(["b", "a"]);
  });

  it("does not restore the operation that failed", async () => {
    const restore = vi.fn();
    const workflow = createWorkflow("order")
      .withOperation(
        "fails",
        () => {
          throw boom;
        },
        restore,
      )
      .build();

    await expect(createSmith().forge(workflow, createFoundry("orders"))).rejects.toThrow();
    expect(restore).not.toHaveBeenCalled();
  });

  it("gives each restore what its forge returned, including undefined and falsy outputs, with the foundry and signal", async () => {
    const calls: unknown[][] = [];
    const foundry = createFoundry("orders");
    const signal = new AbortController().signal;
    const workflow = failing(
      createWorkflow("order")
        .withOperation("object", () => ({ id: "R-1" }), (output, f, s) => void calls.push(["object", output, f, s]))
        .withOperation("zero", () => 0, (output) => void calls.push(["zero", output]))
        .withOperation("nothing", () => undefined, (output) => void calls.push(["nothing", output]))
        .withOperation("split", () => withRestoreData("chained", { undo: "this" }), (output) => void calls.push(["split", output])),
    ).build();

    await expect(createSmith().forge(workflow, foundry, { signal })).rejects.toThrow();
    expect(calls).toEqual([
      ["split", { undo: "this" }],
      ["nothing", undefined],
      ["zero", 0],
      ["object", { id: "R-1" }, foundry, signal],
    ]);
  });

  it("rejects with the run's original failure when every restore succeeds", async () => {
    const workflow = failing(createWorkflow("order").withOperation("a", () => 1, () => undefined)).build();

    const error: unknown = await createSmith({ throwOnCompensationError: true })
      .forge(workflow, createFoundry("orders"))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationFailedError);
    expect((error as Error).cause).toBe(boom);
  });

  it("keeps restoring the others when a restore throws, reports it, and rethrows the original failure", async () => {
    const restored: string[] = [];
    const restoreFailure = new Error("refund failed");
    const events: { name: keyof SmithEvents; payload: unknown }[] = [];
    const smith = createSmith();
    smith.on("operationRestored", (payload) => events.push({ name: "operationRestored", payload }));
    smith.on("operationRestoreFailed", (payload) => events.push({ name: "operationRestoreFailed", payload }));
    const workflow = failing(
      createWorkflow("order")
        .withOperation("a", () => 1, () => void restored.push("a"))
        .withOperation("b", () => 2, () => {
          throw restoreFailure;
        })
        .withOperation("c", () => 3, () => void restored.push("c")),
    ).build();

    const error: unknown = await smith.forge(workflow, createFoundry("orders")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationFailedError);
    expect((error as Error).cause).toBe(boom);
    expect(restored).toEqual(["c", "a"]);
    expect(events).toEqual([
      { name: "operationRestored", payload: { workflowName: "order", operationName: "c", index: 2 } },
      { name: "operationRestoreFailed", payload: { workflowName: "order", operationName: "b", index: 1, error: restoreFailure } },
      { name: "operationRestored", payload: { workflowName: "order", operationName: "a", index: 0 } },
    ]);
  });

  it("stops at the first failing restore with failFastCompensation", async () => {
    const restored: string[] = [];
    const workflow = failing(
      createWorkflow("order")
        .withOperation("a", () => 1, () => void restored.push("a"))
        .withOperation("b", () => 2, () => {
          throw new Error("refund failed");
        })
        .withOperation("c", () => 3, () => void restored.push("c")),
    ).build();

    const smith = createSmith({ failFastCompensation: true });
    const ended: SmithEvents["compensationCompleted"][] = [];
    smith.on("compensationCompleted", (event) => ended.push(event));
    await expect(smith.forge(workflow, createFoundry("orders"))).rejects.toBeInstanceOf(OperationFailedError);
    expect(restored).toEqual(["c"]);
    // "a" was left unrestored: the event says so, rather than reading like a whole compensation.
    expect(ended).toEqual([{ workflowName: "order", executionId: expect.any(String), failures: 1, left: 1 }]);
  });

  it("rejects with CompensationError (cause: the original failure, failures: each restore error) with throwOnCompensationError", async () => {
    const first = new Error("refund failed");
    const second = "release failed";
    const workflow = failing(
      createWorkflow("order")
        .withOperation("reserve", () => 1, () => {
          // eslint-disable-next-line @typescript-eslint/only-throw-error -- a restore may throw anything
          throw second;
        })
        .withOperation("charge", () => 2, () => {
          throw first;
        }),
    ).build();

    const error: unknown = await createSmith({ throwOnCompensationError: true })
      .forge(workflow, createFoundry("orders"))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CompensationError);
    const compensation = error as CompensationError;
    expect(compensation.code).toBe("COMPENSATION_FAILED");
    expect(compensation.cause).toBeInstanceOf(OperationFailedError);
    expect((compensation.cause as Error).cause).toBe(boom);
    expect(compensation.failures).toEqual([
      { operationName: "charge", operationIndex: 1, error: first },
      { operationName: "reserve", operationIndex: 0, error: second },
    ]);
    expect(compensation.message).toContain('"charge" (#1)');
    expect(compensation.message).toContain('"reserve" (#0)');
    // Located, as every error of the library is: at the failure that was compensated.
    expect([compensation.workflowName, compensation.operationName, compensation.operationIndex]).toEqual(["order", "fails", 2]);
  });

  it("reports only the first restore failure with both failFast and throwOnCompensationError", async () => {
    const restore = vi.fn();
    const workflow = failing(
      createWorkflow("order")
        .withOperation("a", () => 1, restore)
        .withOperation("b", () => 2, () => {
          throw new Error("refund failed");
        }),
    ).build();

    const error: unknown = await createSmith({ failFastCompensation: true, throwOnCompensationError: true })
      .forge(workflow, createFoundry("orders"))
      .catch((e: unknown) => e);
    expect((error as CompensationError).failures.map((f) => f.operationName)).toEqual(["b"]);
    expect(restore).not.toHaveBeenCalled();
  });

  it("does not compensate after the run's signal aborted", async () => {
    const restore = vi.fn();
    const controller = new AbortController();
    const workflow = createWorkflow("order")
      .withOperation("a", () => 1, restore)
      .withOperation("cancels", () => {
        controller.abort();
        throw new Error("stopped");
      })
      .build();

    await expect(createSmith().forge(workflow, createFoundry("orders"), { signal: controller.signal })).rejects.toMatchObject({
      name: "AbortError",
    });
    expect(restore).not.toHaveBeenCalled();
  });

  it("stops at an abort during compensation: no further restore starts and the run rejects with AbortError", async () => {
    const calls: string[] = [];
    const releasing = deferred();
    const workflow = createWorkflow("order")
      .withOperation("charge", () => "c", () => void calls.push("refund"))
      .withOperation("reserve", () => "r", async (_data, _foundry, signal) => {
        calls.push("release");
        releasing.resolve();
        await untilAborted(signal);
      })
      .withOperation("ship", () => {
        throw new Error("no courier");
      })
      .build();
    const smith = createSmith();
    const events: string[] = [];
    smith.on("operationRestoreFailed", ({ operationName }) => void events.push(`restore failed ${operationName}`));
    smith.on("compensationCompleted", () => void events.push("compensation completed"));
    const controller = new AbortController();
    const run = rejectionOf(smith.forge(workflow, createFoundry("orders"), { signal: controller.signal }));
    await releasing.promise;
    controller.abort(new Error("SIGTERM"));

    expect(await run).toMatchObject({ name: "AbortError", code: "ABORTED", cause: new Error("SIGTERM") });
    expect(calls).toEqual(["release"]);
    expect(events).toEqual([]);
  });

  it("under persistence, names the stored failure as the cause of a smith timeout that fires while a later run finishes the compensation", async () => {
    const provider = new MemoryPersistenceProvider();
    const stopping = new AbortController();
    const workflow = createWorkflow("order")
      .withOperation("reserve", () => "R-1", (_data, _foundry, signal) => untilAborted(signal))
      .withOperation("charge", () => "ch_1", () => stopping.abort(new Error("SIGTERM")))
      .withOperation("ship", () => {
        throw new Error("no courier");
      })
      .build();
    const foundry = () => usePersistence(createFoundry("orders", { executionId: "o-3" }), provider);
    // The first run stops as it restores the charge: the record is left compensating, both restores to run.
    await expect(createSmith().forge(workflow, foundry(), { signal: stopping.signal })).rejects.toMatchObject({ code: "ABORTED" });
    expect(provider.tryLoad("o-3", workflow.id)).toMatchObject({ status: "compensating", nextOperationIndex: 2 });

    const error = await rejectionOf(createSmith({ timeoutMs: 20 }).forge(workflow, foundry()));
    // As stored: the resumed run never held the error itself.
    expect(error).toMatchObject({ code: "WORKFLOW_TIMEOUT", cause: { name: "Error", message: "no courier", operationName: "ship", operationIndex: 2 } });
  });

  it("under persistence, leaves a compensation an abort stopped stored as compensating, for a later run to finish", async () => {
    const releasing = deferred();
    const provider = new MemoryPersistenceProvider();
    const workflow = createWorkflow("order")
      .withOperation("charge", () => "c", vi.fn())
      .withOperation("reserve", () => "r", async (_data, _foundry, signal) => {
        releasing.resolve();
        await untilAborted(signal);
      })
      .withOperation("ship", () => {
        throw new Error("no courier");
      })
      .build();
    const controller = new AbortController();
    const foundry = usePersistence(createFoundry("orders"), provider, { instanceId: "o-1" });
    const run = rejectionOf(createSmith().forge(workflow, foundry, { signal: controller.signal }));
    await releasing.promise;
    controller.abort(new Error("SIGTERM"));

    expect(await run).toMatchObject({ name: "AbortError", code: "ABORTED" });
    expect(provider.tryLoad("o-1", workflow.id)).toMatchObject({ status: "compensating", nextOperationIndex: 2 });
  });
});

describe("an operation that completed under a middleware that then threw", () => {
  // What such a layer is in production: a log transport or a metrics client that fails, or a check of the output.
  const throwsAfter =
    (at: number): OperationMiddleware =>
    async (context, next) => {
      const result = await next();
      if (context.index === at) throw new Error("log transport closed");
      return result;
    };
  const saga = (log: string[], asynchronous: boolean) =>
    createWorkflow("order")
      .withOperation("reserve", () => (log.push("reserve"), "R-1"), (data) => void log.push(`release ${String(data)}`))
      .withOperation("charge", () => (log.push("charge"), asynchronous ? Promise.resolve("ch_1") : "ch_1"), (data) => void log.push(`refund ${String(data)}`))
      .withOperation("ship", () => void log.push("ship"))
      .build();

  for (const [label, asynchronous, observed] of [
    ["synchronous", false, false],
    ["asynchronous", true, false],
    ["observed by listeners", true, true],
  ] as const) {
    it(`is compensated with the operations before it (${label}): its effects were made`, async () => {
      const log: string[] = [];
      const foundry = createFoundry("orders").use(throwsAfter(1));
      if (observed) foundry.on("operationCompleted", () => undefined);

      const error = await rejectionOf(createSmith().forge(saga(log, asynchronous), foundry));
      expect(error).toMatchObject({ code: "OPERATION_FAILED", operationName: "charge", operationIndex: 1, message: expect.stringContaining("log transport closed") });
      expect(log).toEqual(["reserve", "charge", "refund ch_1", "release R-1"]);
    });
  }

  it("is stored as still to restore, so a compensation resumed after a crash undoes it too", async () => {
    const provider = new MemoryPersistenceProvider();
    const log: string[] = [];
    const saves: string[] = [];
    const foundry = createFoundry("orders", { executionId: "o-7" });
    // Persistence inside the failing layer: the charge's checkpoint is stored before the layer throws.
    foundry.use(throwsAfter(1));
    usePersistence(foundry, provider);
    foundry.on("snapshotSaved", (event) => saves.push(`${event.status} ${event.nextOperationIndex}`));

    await expect(createSmith().forge(saga(log, true), foundry)).rejects.toMatchObject({ operationIndex: 1 });
    expect(log).toEqual(["reserve", "charge", "refund ch_1", "release R-1"]);
    expect(saves).toEqual(["running 1", "running 2", "compensating 2", "compensating 1", "compensating 0"]);
  });

  it("is stored with what its restore needs when persistence is outside the layer, so a compensation resumed after a crash undoes it with that", async () => {
    const provider = new MemoryPersistenceProvider();
    const log: string[] = [];
    // The first refund is interrupted (the process is told to stop): the next run finishes the compensation.
    const stopping = new AbortController();
    const workflow = createWorkflow("order")
      .withOperation("reserve", () => (log.push("reserve"), "R-1"), (data) => void log.push(`release ${String(data)}`))
      .withOperation(
        "charge",
        () => (log.push("charge"), { chargeId: "ch_1" }),
        (data: { chargeId: string } | undefined) => {
          log.push(`refund ${String(data?.chargeId)}`);
          if (!stopping.signal.aborted) stopping.abort(new Error("SIGTERM"));
        },
      )
      .withOperation("ship", () => void log.push("ship"))
      .build();
    // Persistence first, so outside the failing layer: it never saw the charge complete.
    const foundry = () => usePersistence(createFoundry("orders", { executionId: "o-9" }), provider).use(throwsAfter(1));

    await expect(createSmith().forge(workflow, foundry(), { signal: stopping.signal })).rejects.toMatchObject({ code: "ABORTED" });
    expect(provider.tryLoad("o-9", workflow.id)).toMatchObject({ status: "compensating", nextOperationIndex: 2, outputs: { 1: { chargeId: "ch_1" } } });
    await expect(createSmith().forge(workflow, foundry())).rejects.toMatchObject({ code: "WORKFLOW_COMPENSATED" });
    expect(log).toEqual(["reserve", "charge", "refund ch_1", "refund ch_1", "release R-1"]);
  });
});
