import { describe, it, expect, vi } from "vitest";
import {
  createFoundry,
  createSmith,
  createWorkflow,
  delegate,
  forEach,
  errorHandlingMiddleware,
  ForEachChildError,
  OperationFailedError,
  timeoutMiddleware,
  type Operation,
  type OperationMiddleware,
} from "../../src/index.js";
import { MemoryPersistenceProvider, usePersistence } from "../../src/persistence/index.js";
import { deferred, rejectionOf, settle, sleep, untilAborted, type Deferred } from "../support/promises.js";

const run = (operation: Operation, input?: unknown): Promise<unknown> => createFoundry("batch").addOperation(operation).forge({ input });

describe("forEach", () => {
  it("resolves with the children's outputs in child order, whatever order they finish in", async () => {
    const gates: Deferred<string>[] = [deferred(), deferred(), deferred()];
    const children = gates.map((gate, i) => delegate(`child${i}`, () => gate.promise));

    const result = run(forEach("all", children));
    gates[2]!.resolve("third");
    await sleep(1);
    gates[0]!.resolve("first");
    await sleep(1);
    gates[1]!.resolve("second");
    await expect(result).resolves.toEqual(["first", "second", "third"]);
  });

  it.each([
    ["2 children at once with concurrency 2", 2, 2],
    ["3 children at once with concurrency 3", 3, 3],
    ["all 7 children at once without a concurrency", undefined, 7],
  ])("runs %s", async (_, concurrency, expected) => {
    let inFlight = 0;
    let maxInFlight = 0;
    const children = Array.from({ length: 7 }, (_, i) =>
      delegate(`child${i}`, async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await sleep(5);
        inFlight--;
        return i;
      }),
    );

    const options = concurrency === undefined ? {} : { concurrency };
    await expect(run(forEach("all", children, options))).resolves.toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(maxInFlight).toBe(expected);
  });

  it("gives every child the input with the shared strategy (the default)", async () => {
    const children = [0, 1].map((i) => delegate(`child${i}`, (input: string) => `${input}${i}`));
    await expect(run(forEach("all", children), "x")).resolves.toEqual(["x0", "x1"]);
    await expect(run(forEach("all", children, { input: "shared" }), "y")).resolves.toEqual(["y0", "y1"]);
  });

  it("gives child i element i of the input with the split strategy", async () => {
    const children = [0, 1, 2].map((i) => delegate(`child${i}`, (input: number) => input * 10 + i));
    await expect(run(forEach("all", children, { input: "split" }), [1, 2, 3])).resolves.toEqual([10, 21, 32]);
  });

  it("gives every child undefined with the none strategy", async () => {
    const seen: unknown[] = [];
    const children = [0, 1].map((i) => delegate(`child${i}`, (input: unknown) => void seen.push(input)));
    await run(forEach("all", children, { input: "none" }), "ignored");
    expect(seen).toEqual([undefined, undefined]);
  });

  it("rejects with a TypeError when the split input is not an array of one item per child", async () => {
    const child = vi.fn();
    const operation = forEach("all", [delegate("a", child), delegate("b", child)], { input: "split" });
    const foundry = createFoundry("batch");
    const signal = new AbortController().signal;

    await expect(Promise.resolve(operation.forge([1, 2, 3], foundry, signal))).rejects.toThrow(TypeError);
    await expect(Promise.resolve(operation.forge([1, 2, 3], foundry, signal))).rejects.toThrow('input "split" needs an array of 2 items, got 3 items');
    await expect(Promise.resolve(operation.forge("not an array", foundry, signal))).rejects.toThrow(TypeError);
    const error: unknown = await run(operation, [1]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationFailedError);
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect(child).not.toHaveBeenCalled();
  });

  it("reports a failed child as ForEachChildError with its childIndex, aborts the siblings and restores the completed ones", async () => {
    const boom = new Error("boom");
    const restored: unknown[] = [];
    const siblingSignals: AbortSignal[] = [];
    const firstDone = deferred();
    const children: Operation[] = [
      delegate(
        "done",
        () => {
          firstDone.resolve();
          return "done output";
        },
        (output) => void restored.push(output),
      ),
      delegate("fails", async () => {
        await firstDone.promise;
        throw boom;
      }, (output) => void restored.push(["never completed", output])),
      delegate("waits", (_input, _foundry, signal) => {
        siblingSignals.push(signal);
        return untilAborted(signal);
      }, (output) => void restored.push(["aborted", output])),
    ];

    const error: unknown = await run(forEach("all", children)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForEachChildError);
    // Located at the forEach, operation #0 of "batch"; the child is named apart.
    expect(error).toMatchObject({ code: "FOR_EACH_CHILD_FAILED", childIndex: 1, childName: "fails", workflowName: "batch", operationName: "all", operationIndex: 0 });
    expect((error as Error).cause).toBe(boom);
    expect((error as Error).message).toContain('forEach "all"');
    expect(siblingSignals).toHaveLength(1);
    expect(siblingSignals[0]?.aborted).toBe(true);
    expect(restored).toEqual(["done output"]);
  });

  it("still rejects with ForEachChildError and restores the other completed children when a restore throws", async () => {
    const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const restoreError = new Error("restore broke");
    const restored: string[] = [];
    const gate = deferred();
    const children: Operation[] = [
      delegate("a", () => "a", () => void restored.push("a")),
      delegate("b", () => "b", () => {
        throw restoreError;
      }),
      delegate("c", () => "c", () => void restored.push("c")),
      delegate("fails", async () => {
        await gate.promise;
        throw new Error("boom");
      }),
    ];

    const result = createFoundry("batch", { logger }).addOperation(forEach("all", children)).forge();
    await sleep(1);
    gate.resolve();
    const error: unknown = await result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForEachChildError);
    expect(error).toMatchObject({ childIndex: 3 });
    expect(restored).toEqual(["c", "a"]);
    expect(logger.error).toHaveBeenCalledWith(expect.stringContaining('"b"'), restoreError);
  });

  it("restores every child during compensation even when one child's restore throws, then reports that failure", async () => {
    const restoreError = new Error("restore broke");
    const restored: string[] = [];
    const children = [
      delegate("a", () => "a", () => void restored.push("a")),
      delegate("b", () => "b", () => {
        throw restoreError;
      }),
      delegate("c", () => "c", () => void restored.push("c")),
    ];
    const smith = createSmith();
    const restoreFailures: unknown[] = [];
    smith.on("operationRestoreFailed", (event) => restoreFailures.push(event.error));
    const workflow = createWorkflow("batch")
      .addOperation(forEach("all", children))
      .withOperation("fails", () => {
        throw new Error("boom");
      })
      .build();

    await expect(smith.forge(workflow, createFoundry("batch"))).rejects.toMatchObject({ code: "OPERATION_FAILED" });
    expect(restored).toEqual(["c", "a"]);
    expect(restoreFailures).toEqual([restoreError]);
  });

  it("starts no queued child after a sibling failed", async () => {
    const queued = vi.fn();
    const children = [
      delegate("fails", () => {
        throw new Error("boom");
      }),
      delegate("queued", queued),
    ];
    await expect(run(forEach("all", children, { concurrency: 1 }))).rejects.toBeInstanceOf(ForEachChildError);
    expect(queued).not.toHaveBeenCalled();
  });

  it("restores every child in reverse order with its own output when a later operation fails", async () => {
    const restored: unknown[] = [];
    const children = [0, 1, 2].map((i) => delegate(`child${i}`, () => `out${i}`, (output) => void restored.push(output)));
    const workflow = createWorkflow("batch")
      .addOperation(forEach("all", children))
      .withOperation("fails", (outputs: unknown) => {
        restored.push(outputs);
        throw new Error("boom");
      })
      .build();

    await expect(createSmith().forge(workflow, createFoundry("batch"))).rejects.toThrow();
    expect(restored).toEqual([["out0", "out1", "out2"], "out2", "out1", "out0"]);
  });

  it("resolves with an empty array when it has no children", async () => {
    await expect(run(forEach("none", []))).resolves.toEqual([]);
  });

  it.each([
    ["an empty name", () => forEach("", [])],
    ["children that are not an array", () => forEach("all", "nope" as any)],
    ["a child that is not an operation", () => forEach("all", [{ name: "x" } as any])],
    ["a zero concurrency", () => forEach("all", [], { concurrency: 0 })],
    ["a fractional concurrency", () => forEach("all", [], { concurrency: 1.5 })],
    ["an unknown input strategy", () => forEach("all", [], { input: "each" as any })],
    ["an unknown option", () => forEach("all", [], { parallel: 2 } as any)],
  ])("throws a TypeError for %s", (_, call) => {
    expect(call).toThrow(TypeError);
  });

  it("takes null options as bad input naming them, not as unset (which would run every child at once)", () => {
    expect(() => forEach("all", [], { concurrency: null } as any)).toThrow(/concurrency must be a positive integer, got null/);
    expect(() => forEach("all", [], { input: null } as any)).toThrow(/input must be "shared", "split" or "none", got null/);
  });

  it("whose failure a layer recovered undoes its completed children once: a later failure does not undo them again", async () => {
    const undone: string[] = [];
    const charge = (id: string, fails = false): Operation<unknown, string> => ({
      name: `charge ${id}`,
      forge: () => (fails ? Promise.reject(new Error(`${id} declined`)) : Promise.resolve(`ch_${id}`)),
      restore: (data) => void undone.push(`refund ${String(data)}`),
    });
    const workflow = createWorkflow("order")
      .addOperation(forEach("charges", [charge("a"), charge("b", true)], { input: "none" }))
      .withOperation("ship", () => {
        throw new Error("no courier");
      })
      .build();
    const foundry = createFoundry("orders").use(errorHandlingMiddleware((error, context) => {
      if (context.operation.name === "charges") return "charged later";
      throw error;
    }));

    expect(await rejectionOf(createSmith().forge(workflow, foundry))).toMatchObject({ operationName: "ship" });
    expect(undone).toEqual(["refund ch_a"]);
  });

  describe("aborted: its children are undone only when the run compensates the abort", () => {
    /** Child A completes (its restore refunds it); child B runs until its signal aborts, saying when it started. */
    function charges(restored: string[]) {
      const running = deferred();
      const children: Operation[] = [
        delegate("charge-a", () => "charge A", (output) => void restored.push(`refund ${String(output)}`)),
        delegate("charge-b", (_input, _foundry, signal) => (running.resolve(), untilAborted(signal))),
      ];
      return { children, running: running.promise };
    }

    it("the run's abort: no child restore runs, and the run resumes at the forEach", async () => {
      const restored: string[] = [];
      const { children, running } = charges(restored);
      const provider = new MemoryPersistenceProvider();
      const controller = new AbortController();
      const workflow = createWorkflow("batch").withOperation("reserve", () => "r", () => void restored.push("release")).addOperation(forEach("charges", children)).build();
      const forged = createSmith().forge(workflow, usePersistence(createFoundry("batch"), provider, { instanceId: "batch-1" }), { signal: controller.signal });
      await running;
      controller.abort();
      await expect(forged).rejects.toMatchObject({ name: "AbortError" });
      expect(restored).toEqual([]);
      expect(provider.tryLoad("batch-1", workflow.id)).toMatchObject({ status: "running", nextOperationIndex: 1 });
    });

    it("the smith's timeout: no child restore runs once the run rejected", async () => {
      const restored: string[] = [];
      const { children, running } = charges(restored);
      const workflow = createWorkflow("batch").addOperation(forEach("charges", children)).build();
      const forged = createSmith({ timeoutMs: 20 }).forge(workflow, createFoundry("batch"));
      await running;
      await expect(forged).rejects.toMatchObject({ code: "WORKFLOW_TIMEOUT" });
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(restored).toEqual([]);
    });

    it("an abort that is a failure is still undone: a nested forEach whose outer sibling failed", async () => {
      const restored: string[] = [];
      const innerStarted = deferred();
      const inner = forEach("inner", [
        delegate("charge-a", () => "A", (output) => void restored.push(`refund ${String(output)}`)),
        delegate("charge-b", (_input, _foundry, signal) => (innerStarted.resolve(), untilAborted(signal))),
      ]);
      const bad = delegate("bad", async () => {
        await innerStarted.promise;
        throw new Error("card declined");
      });
      await expect(run(forEach("outer", [inner, bad]))).rejects.toMatchObject({ code: "FOR_EACH_CHILD_FAILED", childName: "bad" });
      expect(restored).toEqual(["refund A"]);
    });

    it("an abort that is a failure is still undone: the operation's own timeout (timeoutMiddleware)", async () => {
      const restored: string[] = [];
      const { children, running } = charges(restored);
      const workflow = createWorkflow("batch").withOperation("reserve", () => "r", () => void restored.push("release")).addOperation(forEach("charges", children)).build();
      const forged = createSmith().forge(workflow, createFoundry("batch").use(timeoutMiddleware(20)));
      await running;
      await expect(forged).rejects.toMatchObject({ code: "OPERATION_TIMEOUT" });
      // The timeout gives up on the forEach at once, so its own undo may land after the smith's.
      await expect.poll(() => [...restored].sort()).toEqual(["refund charge A", "release"]);
    });

    it("under the operation's own timeout, undoes its children with a signal that is not aborted: an undo that honours its signal still runs", async () => {
      const restored: string[] = [];
      const running = deferred();
      const children: Operation[] = [
        delegate("hotel", () => "H-1", (output, _foundry, signal) => void restored.push(signal.aborted ? "undo given an aborted signal" : `cancel ${String(output)}`)),
        delegate("flight", (_input, _foundry, signal) => (running.resolve(), untilAborted(signal))),
      ];
      const workflow = createWorkflow("trip").addOperation(forEach("reserve", children)).build();
      const forged = createSmith().forge(workflow, createFoundry("trip").use(timeoutMiddleware(20)));
      await running.promise;
      await expect(forged).rejects.toMatchObject({ code: "OPERATION_TIMEOUT" });
      await expect.poll(() => restored).toEqual(["cancel H-1"]);
    });

    // Cut short, a restore rejects with the signal's reason (fetch) or an AbortError of its own (node:timers/promises, many SDKs).
    const cutShortBy = {
      "its signal's reason": (signal: AbortSignal) => untilAborted(signal),
      "an AbortError of its own": (signal: AbortSignal) => untilAborted(signal).catch(() => Promise.reject(new DOMException("The operation was aborted", "AbortError"))),
    };
    it.each(Object.entries(cutShortBy))("a timeout that fires while a failed child's siblings are undone runs the undo it aborted (rejecting with %s) again, with a signal that never aborts", async (_label, cutShort) => {
      const undone: string[] = [];
      const refunding = deferred();
      const declined = deferred();
      let attempts = 0;
      const charges = forEach("charges", [
        {
          name: "charge-a",
          forge: () => "ch_a",
          // Honours its signal, as a fetch does: the first attempt is cut short by the timeout.
          restore: async (_data, _foundry, signal) => {
            if (attempts++ > 0) return void undone.push(`refund ch_a, signal aborted: ${signal.aborted}`);
            refunding.resolve();
            await cutShort(signal);
          },
        },
        { name: "charge-b", forge: () => declined.promise.then(() => Promise.reject(new Error("card declined"))) },
      ]);
      const workflow = createWorkflow("batch").withOperation("reserve", () => "R-1", () => void undone.push("release R-1")).addOperation(charges).build();
      const failed = rejectionOf(createSmith().forge(workflow, createFoundry("orders").use(timeoutMiddleware(20))));
      declined.resolve();
      await refunding.promise;
      expect(await failed).toMatchObject({ code: "OPERATION_TIMEOUT" });
      await vi.waitFor(() => expect(undone).toEqual(["release R-1", "refund ch_a, signal aborted: false"]));
    });

    it("a timeout during the undo runs again only a restore it cut short: not one that failed for its own reason, nor a nested forEach's whole restore", async () => {
      const undone: string[] = [];
      const cut = deferred();
      const declined = deferred();
      const reached = deferred();
      let attempts = 0;
      // Honours its signal: cut short by the timeout the first time, done the second.
      const honours: Operation<unknown, string> = {
        name: "i1",
        forge: () => "i1",
        restore: async (_data, _foundry, signal) => {
          if (attempts++ > 0) return void undone.push("i1");
          cut.resolve();
          await untilAborted(signal);
        },
      };
      const plain = (id: string): Operation<unknown, string> => ({ name: id, forge: () => id, restore: () => void undone.push(id) });
      // Undoes its charge, then fails to say so: it must not run again.
      const notifies: Operation<unknown, string> = {
        name: "c0",
        forge: () => "c0",
        restore: async () => {
          undone.push("c0");
          await reached.promise;
          throw new Error("notify failed after the refund");
        },
      };
      const fails: Operation<unknown, string> = { name: "o1", forge: () => declined.promise.then(() => Promise.reject(new Error("declined"))) };
      const outer = forEach("outer", [notifies, forEach("inner", [plain("i0"), honours, plain("i2")], { input: "none" }), fails], { input: "none" });
      const workflow = createWorkflow("batch").addOperation(outer).build();
      const run = rejectionOf(createSmith().forge(workflow, createFoundry("orders").use(timeoutMiddleware(20))));
      declined.resolve();
      await cut.promise;
      expect(await run).toMatchObject({ code: "OPERATION_TIMEOUT" });
      reached.resolve();
      await vi.waitFor(() => expect(undone).toEqual(["i2", "i1", "i0", "c0"]));
      await settle();
      expect(undone).toEqual(["i2", "i1", "i0", "c0"]);
    });

    it("a restore that fails for its own reason while the timeout fires is not run again", async () => {
      const undone: string[] = [];
      const declined = deferred();
      const charges = forEach("charges", [
        {
          name: "c0",
          forge: () => "c0",
          // Ignores its signal: undoes the charge, then fails to say so once the timeout fired.
          restore: async (_data, _foundry, signal) => {
            undone.push("c0");
            await untilAborted(signal).catch(() => undefined);
            throw new Error("notify failed after the refund");
          },
        },
        { name: "c1", forge: () => declined.promise.then(() => Promise.reject(new Error("declined"))) },
      ]);
      const run = rejectionOf(createSmith().forge(createWorkflow("batch").addOperation(charges).build(), createFoundry("orders").use(timeoutMiddleware(20))));
      declined.resolve();
      expect(await run).toMatchObject({ code: "OPERATION_TIMEOUT" });
      await settle();
      expect(undone).toEqual(["c0"]);
    });

    it("its restore starts no child's restore once the run aborted: a resumed compensation restores it whole, each child once more at most", async () => {
      const provider = new MemoryPersistenceProvider();
      const restored: string[] = [];
      const stopping = new AbortController();
      const child = (id: string): Operation<unknown, string> => ({
        name: id,
        forge: () => id,
        restore: () => {
          restored.push(id);
          // The process is told to stop during the first compensation, as c1 is undone.
          if (id === "c1" && !stopping.signal.aborted) stopping.abort(new Error("SIGTERM"));
        },
      });
      const workflow = createWorkflow("batch")
        .addOperation(forEach("fe", [child("c0"), child("c1"), child("c2")], { input: "none" }))
        .withOperation("boom", () => {
          throw new Error("boom");
        })
        .build();
      const foundry = () => usePersistence(createFoundry("orders", { executionId: "b-1" }), provider);
      expect(await rejectionOf(createSmith().forge(workflow, foundry(), { signal: stopping.signal }))).toMatchObject({ code: "ABORTED" });
      expect(restored).toEqual(["c2", "c1"]);
      expect(await rejectionOf(createSmith().forge(workflow, foundry()))).toMatchObject({ code: "WORKFLOW_COMPENSATED" });
      expect(restored).toEqual(["c2", "c1", "c2", "c1", "c0"]);
    });

    describe("the operation's own timeout, with a child that ignores its signal", () => {
      /**
       * Workflow "batch": "reserve" (its restore releases), then forEach "charges": "charge-a"
       * completes at once, "charge-b" completes when `charged` is settled. A 20 ms timeout gives up
       * on the forEach while charge-b runs; `charges()` is the forEach's own call, which the run
       * no longer follows. Every restore says what it undid and whether its signal was aborted.
       */
      function timedOutCharges(charged: Promise<string>) {
        const undone: string[] = [];
        const undo = (what: string, signal: AbortSignal) => void undone.push(signal.aborted ? `${what} given an aborted signal` : what);
        const children: Operation[] = [
          delegate("charge-a", () => "A", (output, _foundry, signal) => undo(`refund ${String(output)}`, signal)),
          delegate("charge-b", () => charged, (output, _foundry, signal) => undo(`refund ${String(output)}`, signal)),
        ];
        let call: Promise<unknown> | undefined;
        const capture: OperationMiddleware = (context, next) => {
          const result = next();
          if (context.operation.name === "charges") call = result;
          return result;
        };
        const workflow = createWorkflow("batch")
          .withOperation("reserve", () => "R", () => void undone.push("release"))
          .addOperation(forEach("charges", children))
          .build();
        const smith = createSmith();
        const runRestored: string[] = [];
        smith.on("operationRestored", (event) => runRestored.push(event.operationName));
        const forged = smith.forge(workflow, createFoundry("batch").use(timeoutMiddleware(20)).use(capture));
        return { undone, runRestored, forged, charges: () => call };
      }

      it("a child completing after the timeout is undone when it completes, the others when it fired, each once, and the late forEach throws the timeout", async () => {
        const charged = deferred<string>();
        const batch = timedOutCharges(charged.promise);
        const error: unknown = await rejectionOf(batch.forged);
        expect(error).toMatchObject({ code: "OPERATION_TIMEOUT", operationName: "charges", operationIndex: 1 });
        // Undone while charge-b still runs: not held back until every child settled.
        await settle();
        expect([...batch.undone].sort()).toEqual(["refund A", "release"]);

        charged.resolve("B");
        // The forEach's own call, once its late child is undone, rejects: its outputs reach no one.
        await expect(batch.charges()).rejects.toBe(error);
        await settle();
        expect(batch.undone.filter((what) => what !== "release")).toEqual(["refund A", "refund B"]);
        expect([...batch.undone].sort()).toEqual(["refund A", "refund B", "release"]);
        // The run compensated "reserve" only: the forEach, which it gave up on, undoes its own children.
        expect(batch.runRestored).toEqual(["reserve"]);
      });

      it("a child that never settles: the children completed before the timeout are undone once, when it fires", async () => {
        const batch = timedOutCharges(new Promise<string>(() => undefined));
        const error: unknown = await rejectionOf(batch.forged);
        expect(error).toMatchObject({ code: "OPERATION_TIMEOUT", operationName: "charges" });
        await settle();
        expect([...batch.undone].sort()).toEqual(["refund A", "release"]);
        expect(batch.runRestored).toEqual(["reserve"]);
      });

      it("nested: the inner forEach undoes its own late child, and the outer does not undo the inner again", async () => {
        const undone: string[] = [];
        const charged = deferred<string>();
        const inner = forEach("inner", [
          delegate("charge-a", () => "A", () => void undone.push("refund A")),
          delegate("charge-b", () => charged.promise, () => void undone.push("refund B")),
        ]);
        const outer = forEach("outer", [inner, delegate("charge-c", () => "C", () => void undone.push("refund C"))]);
        const workflow = createWorkflow("batch").addOperation(outer).build();
        await expect(createSmith().forge(workflow, createFoundry("batch").use(timeoutMiddleware(20)))).rejects.toMatchObject({ code: "OPERATION_TIMEOUT" });
        await settle();
        expect([...undone].sort()).toEqual(["refund A", "refund C"]);
        charged.resolve("B");
        await settle();
        expect([...undone].sort()).toEqual(["refund A", "refund B", "refund C"]);
      });
    });

    it("nested, stopped by an outer sibling's failure, undoes its children with a signal only the run's abort reaches", async () => {
      const undo: { aborted: boolean[]; stopped: boolean } = { aborted: [], stopped: false };
      const innerStarted = deferred();
      const undoStarted = deferred();
      const inner = forEach("inner", [
        delegate("charge-a", () => "A", async (_output, _foundry, signal) => {
          undo.aborted.push(signal.aborted);
          undoStarted.resolve();
          // A slow undo that honours its signal, as a fetch does.
          await untilAborted(signal).catch(() => (undo.stopped = true));
        }),
        delegate("charge-b", (_input, _foundry, signal) => (innerStarted.resolve(), untilAborted(signal))),
      ]);
      const bad = delegate("bad", async () => {
        await innerStarted.promise;
        throw new Error("card declined");
      });
      const controller = new AbortController();
      const forged = createFoundry("batch").addOperation(forEach("outer", [inner, bad])).forge({ signal: controller.signal });
      await undoStarted.promise;
      expect(undo).toEqual({ aborted: [false], stopped: false });
      controller.abort();
      await expect(forged).rejects.toBeDefined();
      expect(undo.stopped).toBe(true);
    });

    it("a child's own failure still undoes the children that completed", async () => {
      const restored: string[] = [];
      const children: Operation[] = [
        delegate("charge-a", () => "charge A", (output) => void restored.push(`refund ${String(output)}`)),
        delegate("charge-b", () => Promise.reject(new Error("card declined"))),
      ];
      await expect(run(forEach("charges", children, { concurrency: 1 }))).rejects.toBeInstanceOf(ForEachChildError);
      expect(restored).toEqual(["refund charge A"]);
    });
  });
});
