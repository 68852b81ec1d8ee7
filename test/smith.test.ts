import { describe, it, expect, vi } from "vitest";
import {
  createFoundry,
  createSmith,
  createWorkflow,
  MiddlewareError,
  WorkflowTimeoutError,
  type WorkflowMiddleware,
} from "../src/index.js";
import { deferred, rejectionOf, untilAborted } from "./support/promises.js";

const twoSteps = () =>
  createWorkflow("order")
    .withOperation("a", (input: number) => input + 1)
    .withOperation("b", (input: number) => input * 10)
    .build();

describe("createSmith", () => {
  it.each([
    ["a negative timeoutMs", { timeoutMs: -1 }, "createSmith(options).timeoutMs"],
    ["a zero timeoutMs", { timeoutMs: 0 }, "createSmith(options).timeoutMs"],
    ["a NaN timeoutMs", { timeoutMs: Number.NaN }, "createSmith(options).timeoutMs"],
    ["a non-boolean failFastCompensation", { failFastCompensation: "yes" }, "failFastCompensation"],
    ["a non-boolean throwOnCompensationError", { throwOnCompensationError: 1 }, "throwOnCompensationError"],
    ["an unknown option", { timeout: 5 }, 'unknown option "timeout"'],
  ])("throws a TypeError naming %s", (_, options, named) => {
    expect(() => createSmith(options as any)).toThrow(TypeError);
    expect(() => createSmith(options as any)).toThrow(named);
  });

  it("throws a TypeError when use() is not given a function", () => {
    expect(() => createSmith().use("nope" as any)).toThrow(TypeError);
    expect(() => createSmith().use("nope" as any)).toThrow("smith.use(middleware)");
  });
});

describe("smith.forge", () => {
  it("runs the workflow's operations on the foundry and resolves with the last output", async () => {
    await expect(createSmith().forge(twoSteps(), createFoundry("orders"), { input: 1 })).resolves.toBe(20);
  });

  it("rejects with a TypeError when given something other than a built workflow or a foundry", async () => {
    const foundry = createFoundry("orders");
    await expect(createSmith().forge({ name: "x" } as any, foundry)).rejects.toThrow(TypeError);
    await expect(createSmith().forge(twoSteps(), {} as any)).rejects.toThrow(/foundry must be created with createFoundry/);
    await expect(createSmith().forge(twoSteps(), foundry, { signall: 1 } as any)).rejects.toThrow('unknown option "signall"');
  });

  it.each([
    ["an operation without forge", { name: "oops" }, 'workflow.operations[1]: operation "oops".forge'],
    ["null among the operations", null, "workflow.operations[1]: operation must be an object"],
    ["an operation without a name", { forge: () => undefined }, "workflow.operations[1]: operation.name"],
    ["a hole among the operations", "hole", "workflow.operations[1]: operation must be an object"],
  ])("rejects a hand-built workflow with %s before any operation runs", async (_what, bad, named) => {
    const ran: string[] = [];
    const operations: unknown[] = [{ name: "charge", forge: () => void ran.push("charge"), restore: () => void ran.push("refund") }];
    if (bad === "hole") operations[2] = { name: "ship", forge: () => void ran.push("ship") };
    else operations.push(bad);
    const workflow = { id: "x", name: "x", version: undefined, operations };
    const error = await createSmith().forge(workflow as any, createFoundry("orders")).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain(named);
    expect(ran).toEqual([]);
  });

  it("names what a hand-built workflow lacks", async () => {
    const error = await createSmith().forge({ name: "x", operations: [] } as any, createFoundry("orders")).catch((caught: unknown) => caught);
    expect((error as Error).message).toBe("smith.forge(workflow, foundry): workflow must be built with createWorkflow(...).build(): its id is missing or of the wrong type");
  });

  it("neither changes nor discards the workflow or the foundry's own operations", async () => {
    const foundry = createFoundry("orders").withOperation("own", () => "own output");
    const workflow = twoSteps();
    const operationsBefore = [...workflow.operations];

    await createSmith().forge(workflow, foundry, { input: 1 });
    expect(workflow.operations).toEqual(operationsBefore);
    expect(Object.isFrozen(workflow)).toBe(true);
    expect(foundry.operations.map((op) => op.name)).toEqual(["own"]);
    await expect(foundry.forge()).resolves.toBe("own output");
    await expect(createSmith().forge(workflow, foundry, { input: 2 })).resolves.toBe(30);
  });

  it("wraps the workflow's operations in the foundry's operation middleware", async () => {
    const seen: string[] = [];
    const foundry = createFoundry("orders").use((context, next) => {
      seen.push(context.operation.name);
      return next();
    });

    await createSmith().forge(twoSteps(), foundry, { input: 1 });
    expect(seen).toEqual(["a", "b"]);
  });

  it("emits workflowStarted and workflowCompleted with the output", async () => {
    const events: unknown[] = [];
    const smith = createSmith();
    smith.on("workflowStarted", (payload) => events.push(["started", payload]));
    smith.on("workflowCompleted", (payload) => events.push(["completed", payload]));
    smith.on("workflowFailed", (payload) => events.push(["failed", payload]));
    const foundry = createFoundry("orders", { executionId: "exec-1" });

    await smith.forge(twoSteps(), foundry, { input: 1 });
    expect(events).toEqual([
      ["started", { workflowName: "order", executionId: "exec-1" }],
      ["completed", { workflowName: "order", executionId: "exec-1", output: 20, durationMs: expect.any(Number) }],
    ]);
  });

  it("emits workflowFailed with the error and the compensation events in order", async () => {
    const events: [string, unknown][] = [];
    const smith = createSmith();
    for (const name of [
      "workflowStarted",
      "workflowCompleted",
      "workflowFailed",
      "compensationStarted",
      "operationRestored",
      "operationRestoreFailed",
      "compensationCompleted",
    ] as const) {
      smith.on(name, (payload) => events.push([name, payload]));
    }
    const workflow = createWorkflow("order")
      .withOperation("reserve", () => "R-1", () => undefined)
      .withOperation("charge", () => {
        throw new Error("card declined");
      })
      .build();

    const error: unknown = await smith.forge(workflow, createFoundry("orders", { executionId: "exec-1" })).catch((e: unknown) => e);
    const base = { workflowName: "order", executionId: "exec-1" };
    expect(events).toEqual([
      ["workflowStarted", base],
      ["compensationStarted", { ...base, error, pending: 1 }],
      ["operationRestored", { workflowName: "order", operationName: "reserve", index: 0 }],
      ["compensationCompleted", { ...base, failures: 0, left: 0 }],
      ["workflowFailed", { ...base, error, durationMs: expect.any(Number) }],
    ]);
  });

  it("runs workflow middleware as an onion, first added outermost, around the whole run", async () => {
    const log: string[] = [];
    const layer =
      (name: string): WorkflowMiddleware =>
      async (context, next) => {
        log.push(`${name} in ${context.workflow.name}`);
        const result = await next();
        log.push(`${name} out`);
        return result;
      };
    const foundry = createFoundry("orders").use((context, next) => {
      log.push(`op ${context.operation.name}`);
      return next();
    });

    await createSmith().use(layer("first")).use(layer("second")).forge(twoSteps(), foundry, { input: 1 });
    expect(log).toEqual(["first in order", "second in order", "op a", "op b", "second out", "first out"]);
  });

  it("lets workflow middleware change the input and replace the output", async () => {
    const smith = createSmith().use(async (context, next) => {
      const output = await next({ ...context, input: 5 });
      return `output ${String(output)}`;
    });
    await expect(smith.forge(twoSteps(), createFoundry("orders"), { input: 1 })).resolves.toBe("output 60");
  });

  it("rejects with MiddlewareError (MIDDLEWARE_MISUSE) when a workflow middleware calls next twice", async () => {
    const operation = vi.fn();
    const workflow = createWorkflow("order").withOperation("a", operation).build();
    const smith = createSmith().use(async (_context, next) => {
      await next();
      return next();
    });

    const error: unknown = await smith.forge(workflow, createFoundry("orders")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MiddlewareError);
    expect(error).toMatchObject({ code: "MIDDLEWARE_MISUSE", workflowName: "order" });
    expect(operation).toHaveBeenCalledTimes(1);
  });

  it("aborts the running operation's signal and rejects with WorkflowTimeoutError after timeoutMs", async () => {
    let signal: AbortSignal | undefined;
    const workflow = createWorkflow("order")
      .withOperation("hangs", (_input, _foundry, s) => {
        signal = s;
        return untilAborted(s);
      })
      .build();

    const error: unknown = await createSmith({ timeoutMs: 20 })
      .forge(workflow, createFoundry("orders"))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowTimeoutError);
    expect(error).toMatchObject({ code: "WORKFLOW_TIMEOUT", timeoutMs: 20, workflowName: "order" });
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe(error);
  });

  it("rejects with WorkflowTimeoutError even when the running operation ignores its signal", async () => {
    const release = deferred();
    const workflow = createWorkflow("order").withOperation("ignores", () => release.promise).build();

    await expect(createSmith({ timeoutMs: 20 }).forge(workflow, createFoundry("orders"))).rejects.toBeInstanceOf(WorkflowTimeoutError);
    release.resolve();
  });

  it("does not compensate after its timeout", async () => {
    const restore = vi.fn();
    const workflow = createWorkflow("order")
      .withOperation("a", () => 1, restore)
      .withOperation("hangs", (_input, _foundry, signal) => untilAborted(signal))
      .build();

    await expect(createSmith({ timeoutMs: 20 }).forge(workflow, createFoundry("orders"))).rejects.toBeInstanceOf(WorkflowTimeoutError);
    expect(restore).not.toHaveBeenCalled();
  });

  it("gives WorkflowTimeoutError the failure being compensated as its cause when the timeout fires during the compensation, in the rejection and in workflowFailed", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const declined = new Error("card declined");
      const restoring = deferred();
      const workflow = createWorkflow("order")
        .withOperation("reserve", () => "R-1", (_output, _foundry, signal) => (restoring.resolve(), untilAborted(signal)))
        .withOperation("charge", () => {
          throw declined;
        })
        .build();
      const smith = createSmith({ timeoutMs: 20 });
      const compensating: unknown[] = [];
      const failed: unknown[] = [];
      smith.on("compensationStarted", (event) => compensating.push(event.error));
      smith.on("workflowFailed", (event) => failed.push(event.error));

      const forged = smith.forge(workflow, createFoundry("orders"));
      await restoring.promise;
      vi.advanceTimersByTime(20);
      const error = await rejectionOf<WorkflowTimeoutError>(forged);
      expect(error).toBeInstanceOf(WorkflowTimeoutError);
      expect(error).toMatchObject({ code: "WORKFLOW_TIMEOUT", workflowName: "order", timeoutMs: 20 });
      expect(compensating).toHaveLength(1);
      expect(error.cause).toBe(compensating[0]);
      expect(error.cause).toMatchObject({ code: "OPERATION_FAILED", operationName: "charge", cause: declined });
      expect(failed).toEqual([error]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("gives WorkflowTimeoutError no cause when nothing failed before it fired, even after an earlier run of the same smith failed", async () => {
    const smith = createSmith({ timeoutMs: 20 });
    const fails = createWorkflow("order")
      .withOperation("reserve", () => "R-1", () => undefined)
      .withOperation("charge", () => {
        throw new Error("card declined");
      })
      .build();
    await expect(smith.forge(fails, createFoundry("orders"))).rejects.toMatchObject({ code: "OPERATION_FAILED" });
    const hangs = createWorkflow("order").withOperation("hangs", (_input, _foundry, signal) => untilAborted(signal)).build();

    const error = await rejectionOf<WorkflowTimeoutError>(smith.forge(hangs, createFoundry("orders")));
    expect(error).toBeInstanceOf(WorkflowTimeoutError);
    expect("cause" in error).toBe(false);
  });

  it("does not time out a run that finishes within timeoutMs", async () => {
    await expect(createSmith({ timeoutMs: 5_000 }).forge(twoSteps(), createFoundry("orders"), { input: 1 })).resolves.toBe(20);
  });
});
