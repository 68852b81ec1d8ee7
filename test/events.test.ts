import { describe, it, expect, vi } from "vitest";
import { createFoundry, createSmith, createWorkflow, timeoutMiddleware, type Foundry, type FoundryEvents, type OperationMiddleware, type SmithEvents } from "../src/index.js";
import "../src/persistence/index.js"; // its events join FoundryEvents
import { deferred, settle } from "./support/promises.js";
import { recordingLogger } from "./support/recording-logger.js";

describe("events", () => {
  it("reports operationStarted and operationCompleted with input, output and duration", async () => {
    const events: [string, unknown][] = [];
    const foundry = createFoundry("orders").withOperation("a", (input: number) => input + 1).withOperation("b", (input: number) => input * 2);
    foundry.on("operationStarted", (payload) => events.push(["started", payload]));
    foundry.on("operationCompleted", (payload) => events.push(["completed", payload]));

    await foundry.forge({ input: 1 });
    const at = (operationName: string, index: number) => ({ workflowName: "orders", operationName, index });
    expect(events).toEqual([
      ["started", { ...at("a", 0), input: 1 }],
      ["completed", { ...at("a", 0), output: 2, durationMs: expect.any(Number) }],
      ["started", { ...at("b", 1), input: 2 }],
      ["completed", { ...at("b", 1), output: 4, durationMs: expect.any(Number) }],
    ]);
  });

  it("reports operationFailed with the operation's error", async () => {
    const boom = new Error("boom");
    const failed: FoundryEvents["operationFailed"][] = [];
    const foundry = createFoundry("orders").withOperation("fails", () => {
      throw boom;
    });
    foundry.on("operationFailed", (payload) => failed.push(payload));

    await expect(foundry.forge()).rejects.toThrow();
    expect(failed).toEqual([{ workflowName: "orders", operationName: "fails", index: 0, error: boom, durationMs: expect.any(Number) }]);
  });

  it("reports operationFailed when a middleware fails before the operation runs", async () => {
    const failed: FoundryEvents["operationFailed"][] = [];
    const foundry = createFoundry("orders")
      .use(() => {
        throw new Error("middleware broke");
      })
      .withOperation("a", () => 1);
    foundry.on("operationFailed", (payload) => failed.push(payload));

    await expect(foundry.forge()).rejects.toThrow("middleware broke");
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ operationName: "a", index: 0 });
  });

  it("stops calling a listener once its unsubscribe function is called", async () => {
    const listener = vi.fn();
    const foundry = createFoundry("orders").withOperation("a", () => 1);
    const unsubscribe = foundry.on("operationCompleted", listener);

    await foundry.forge();
    unsubscribe();
    await foundry.forge();
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it("throws a TypeError when a listener is not a function", () => {
    expect(() => createFoundry("orders").on("operationStarted", "nope" as any)).toThrow(TypeError);
    expect(() => createSmith().on("workflowStarted", 1 as any)).toThrow(TypeError);
  });

  it("never lets a throwing foundry listener break the run, and logs it through the foundry's logger", async () => {
    const logger = recordingLogger();
    const listenerError = new Error("listener broke");
    const after = vi.fn();
    const foundry = createFoundry("orders", { logger })
      .withOperation("a", (input: number) => input + 1)
      .withOperation("b", (input: number) => input + 1);
    for (const event of ["operationStarted", "operationCompleted"] as const) {
      foundry.on(event, () => {
        throw listenerError;
      });
    }
    foundry.on("operationCompleted", after);

    await expect(foundry.forge({ input: 0 })).resolves.toBe(2);
    expect(after).toHaveBeenCalledTimes(2);
    expect(logger.error).toHaveBeenCalledTimes(4);
    expect(logger.error).toHaveBeenCalledWith(expect.stringContaining("operationStarted"), listenerError);
    expect(logger.error).toHaveBeenCalledWith(expect.stringContaining("operationCompleted"), listenerError);
  });

  it("logs an async listener's rejection as a throw: the run goes on and no rejection is left unhandled", async () => {
    const logger = recordingLogger();
    const unhandled: unknown[] = [];
    const collect = (reason: unknown): void => void unhandled.push(reason);
    process.on("unhandledRejection", collect);
    try {
      const listenerError = new Error("metrics backend down");
      const foundry = createFoundry("orders", { logger })
        .withOperation("a", (input: number) => input + 1)
        .withOperation("b", (input: number) => input + 1);
      foundry.on("operationCompleted", async () => {
        await Promise.resolve();
        throw listenerError;
      });
      await expect(foundry.forge({ input: 0 })).resolves.toBe(2);
      // Unhandled rejections are reported once the microtask queue drains.
      await new Promise((resolve) => setImmediate(resolve));
      expect(logger.error).toHaveBeenCalledTimes(2);
      expect(logger.error).toHaveBeenCalledWith(expect.stringContaining("operationCompleted"), listenerError);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", collect);
    }
  });

  it("never lets a throwing smith listener break the run, and logs it through the smith's logger", async () => {
    const logger = recordingLogger();
    const smith = createSmith({ logger });
    const listenerError = new Error("listener broke");
    for (const event of ["workflowStarted", "workflowCompleted"] as const) {
      smith.on(event, () => {
        throw listenerError;
      });
    }
    const workflow = createWorkflow("order").withOperation("a", () => "done").build();

    await expect(smith.forge(workflow, createFoundry("orders"))).resolves.toBe("done");
    expect(logger.error).toHaveBeenCalledWith(expect.stringContaining("workflowStarted"), listenerError);
    expect(logger.error).toHaveBeenCalledWith(expect.stringContaining("workflowCompleted"), listenerError);
  });

  it("keeps compensating when a compensation listener throws", async () => {
    const restored: string[] = [];
    const smith = createSmith();
    smith.on("compensationStarted", () => {
      throw new Error("listener broke");
    });
    smith.on("operationRestored", () => {
      throw new Error("listener broke");
    });
    const workflow = createWorkflow("order")
      .withOperation("a", () => 1, () => void restored.push("a"))
      .withOperation("b", () => 2, () => void restored.push("b"))
      .withOperation("fails", () => {
        throw new Error("boom");
      })
      .build();

    await expect(smith.forge(workflow, createFoundry("orders"))).rejects.toMatchObject({ code: "OPERATION_FAILED" });
    expect(restored).toEqual(["b", "a"]);
  });
});

describe("events of an operation a timeout gave up on", () => {
  function recordOutcomes(foundry: Foundry): string[] {
    const events: string[] = [];
    foundry.on("operationFailed", (e) => void events.push(`failed ${e.operationName}`));
    foundry.on("operationCompleted", (e) => void events.push(`completed ${e.operationName}`));
    return events;
  }

  it("are not reported when it finishes after the run rejected", async () => {
    const late = deferred<string>();
    const foundry = createFoundry("f").use(timeoutMiddleware(10)).withOperation("slow", () => late.promise);
    const events = recordOutcomes(foundry);
    await expect(foundry.forge()).rejects.toMatchObject({ code: "OPERATION_TIMEOUT" });
    late.resolve("late");
    await settle();
    expect(events).toEqual(["failed slow"]);
  });

  it("do not hide the failure of the operation the run moved on to", async () => {
    const late = deferred<string>();
    const secondReached = deferred();
    const claimLost = deferred();
    let recovered = false;
    const recoverOnce: OperationMiddleware = async (_context, next) => {
      try {
        return await next();
      } catch (error) {
        if (recovered) throw error;
        recovered = true;
        return "fallback";
      }
    };
    const failSecond: OperationMiddleware = async (context, next) => {
      if (context.index !== 1) return next();
      secondReached.resolve();
      await claimLost.promise;
      throw new Error("claim lost before the operation started");
    };
    const foundry = createFoundry("f").use(recoverOnce).use(failSecond).use(timeoutMiddleware(10))
      .withOperation("slow", () => late.promise)
      .withOperation("second", () => "never");
    const events = recordOutcomes(foundry);
    const run = foundry.forge().catch(() => undefined);
    await secondReached.promise;
    late.resolve("late");
    await settle();
    claimLost.resolve();
    await run;
    expect(events).toEqual(["failed second"]);
  });

  it("are not reported when it finishes while the smith compensates, and its failure says how long it ran", async () => {
    const late = deferred<string>();
    const restoring = deferred();
    const restored = deferred();
    const foundry = createFoundry("f").use(timeoutMiddleware(20));
    const events = recordOutcomes(foundry);
    const durations: number[] = [];
    foundry.on("operationFailed", (e) => void durations.push(e.durationMs));
    const workflow = createWorkflow("order")
      .withOperation("reserve", () => "R-1", async () => {
        restoring.resolve();
        await restored.promise;
      })
      .withOperation("slow", () => late.promise)
      .build();
    const run = createSmith().forge(workflow, foundry).catch((error: unknown) => error);
    await restoring.promise;
    late.resolve("late");
    await settle();
    restored.resolve();
    expect(await run).toMatchObject({ code: "OPERATION_TIMEOUT" });
    expect(events).toEqual(["completed reserve", "failed slow"]);
    // The timeout gave up on a call that had started: it ran about the timeout's 20 ms, not 0.
    expect(durations[0]).toBeGreaterThanOrEqual(15);
  });
});


describe("events, as EventTarget calls its listeners", () => {
  it("calls a listener added during an emit from the next event on, so one that adds itself again cannot loop forever", async () => {
    const calls: string[] = [];
    const foundry = createFoundry("orders").withOperation("a", () => 1).withOperation("b", () => 2);
    let added = false;
    foundry.on("operationStarted", (event) => {
      calls.push(`first ${event.operationName}`);
      if (!added) {
        added = true;
        foundry.on("operationStarted", (later) => calls.push(`added ${later.operationName}`));
      }
    });
    let count = 0;
    foundry.on("operationCompleted", function resubscribe() {
      count++;
      foundry.on("operationCompleted", () => resubscribe());
    });

    await expect(foundry.forge()).resolves.toBe(2);
    expect(calls).toEqual(["first a", "first b", "added b"]);
    // One call on the first completion, two on the second (it and the listener it added).
    expect(count).toBe(3);
  });

  it("does not call a listener another removed during the same emit", async () => {
    const calls: string[] = [];
    const foundry = createFoundry("orders").withOperation("a", () => 1);
    let stopSecond = (): void => undefined;
    foundry.on("operationStarted", () => (calls.push("first"), stopSecond()));
    stopSecond = foundry.on("operationStarted", () => calls.push("second"));

    await foundry.forge();
    expect(calls).toEqual(["first"]);
  });
});

describe("event names", () => {
  // Typed against the interfaces: an event added to either must be added to the names `on` knows.
  const everyFoundryEvent: Record<keyof FoundryEvents, true> = { operationStarted: true, operationCompleted: true, operationFailed: true, operationSkipped: true, snapshotRestored: true, snapshotSaved: true, snapshotDeleted: true };
  const everySmithEvent: Record<keyof SmithEvents, true> = {
    ...{ workflowStarted: true, workflowCompleted: true, workflowFailed: true, workflowSuspended: true },
    ...{ compensationStarted: true, operationRestored: true, operationRestoreFailed: true, compensationCompleted: true },
  };

  it("are every event the foundry and the smith report, persistence's included", () => {
    const foundry = createFoundry("orders");
    const smith = createSmith();
    for (const name of Object.keys(everyFoundryEvent)) expect(typeof foundry.on(name as keyof FoundryEvents, () => undefined)).toBe("function");
    for (const name of Object.keys(everySmithEvent)) expect(typeof smith.on(name as keyof SmithEvents, () => undefined)).toBe("function");
  });

  it.each([
    ["a typo", "operationComplete"],
    ["a smith event asked of a foundry", "compensationStarted"],
    ["a number", 42],
    ["undefined", undefined],
  ])("refuses %s with a TypeError naming the events there are", (_what, name) => {
    const foundry = createFoundry("orders");
    expect(() => foundry.on(name as never, () => undefined)).toThrow(TypeError);
    expect(() => foundry.on(name as never, () => undefined)).toThrow(/^foundry\.on\(.+, listener\): no such event; a foundry reports operationStarted, operationCompleted, operationFailed, operationSkipped, snapshotRestored, snapshotSaved, snapshotDeleted$/);
  });

  it("refuses on a smith a name only a foundry reports", () => {
    expect(() => createSmith().on("operationStarted" as never, () => undefined)).toThrow(/^smith\.on\("operationStarted", listener\): no such event; a smith reports workflowStarted, .*compensationCompleted$/);
  });

  it("a listener for outcomes an operation adds hears the next operation's, as the docs say", async () => {
    const heard: string[] = [];
    const foundry = createFoundry("orders").withOperation("a", () => void foundry.on("operationCompleted", (event) => heard.push(event.operationName))).withOperation("b", () => 2);
    await foundry.forge();
    expect(heard).toEqual(["b"]);
  });
});

describe("events with a logger that throws", () => {
  const brokenLogger = () => {
    const fail = () => {
      throw new Error("logger transport closed");
    };
    return { debug: fail, info: fail, warn: fail, error: fail };
  };

  it("keeps the run as it was when a throwing listener's failure cannot even be logged", async () => {
    const ran: string[] = [];
    const foundry = createFoundry("orders", { logger: brokenLogger() }).withOperation("render", () => (ran.push("render"), 1));
    foundry.on("operationStarted", () => {
      throw new Error("listener broke");
    });
    foundry.on("operationCompleted", () => Promise.reject(new Error("async listener broke")));

    await expect(foundry.forge()).resolves.toBe(1);
    await settle();
    expect(ran).toEqual(["render"]);
  });

  it("reports a completed workflow as completed only, when a workflowCompleted listener throws", async () => {
    const events: string[] = [];
    const smith = createSmith({ logger: brokenLogger() });
    smith.on("workflowCompleted", () => {
      events.push("completed");
      throw new Error("listener broke");
    });
    smith.on("workflowFailed", () => events.push("failed"));

    await expect(smith.forge(createWorkflow("pay").withOperation("charge", () => "ch_1").build(), createFoundry("pay"))).resolves.toBe("ch_1");
    expect(events).toEqual(["completed"]);
  });
});
