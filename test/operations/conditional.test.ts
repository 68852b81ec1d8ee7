import { describe, it, expect, vi } from "vitest";
import {
  conditional,
  createFoundry,
  createSmith,
  createWorkflow,
  delegate,
  errorHandlingMiddleware,
  withRestoreData,
  type ConditionalRecord,
  type Operation,
  type RestoreDataResult,
} from "../../src/index.js";
import { MemoryPersistenceProvider, usePersistence } from "../../src/persistence/index.js";
import { deferred } from "../support/promises.js";

const branches = (restored: unknown[][]) => ({
  whenTrue: delegate("express", (input: number) => `express ${input}`, (output) => void restored.push(["express", output])),
  whenFalse: delegate("standard", (input: number) => `standard ${input}`, (output) => void restored.push(["standard", output])),
});

describe("conditional", () => {
  it("runs whenTrue when the predicate holds and whenFalse otherwise, chaining the branch's output", async () => {
    const { whenTrue, whenFalse } = branches([]);
    const run = (input: number) =>
      createFoundry("shipping")
        .addOperation(conditional("ship", (n: number) => n > 10, whenTrue, whenFalse))
        .withOperation("label", (output: string) => `${output}!`)
        .forge({ input });

    await expect(run(20)).resolves.toBe("express 20!");
    await expect(run(5)).resolves.toBe("standard 5!");
  });

  it("passes its input through when the predicate is false and there is no whenFalse", async () => {
    const whenTrue = vi.fn(() => "taken");
    const foundry = createFoundry("shipping").addOperation(conditional("ship", () => false, delegate("express", whenTrue)));
    await expect(foundry.forge({ input: "unchanged" })).resolves.toBe("unchanged");
    expect(whenTrue).not.toHaveBeenCalled();
  });

  it("awaits an async predicate and gives it the input, the foundry and the signal", async () => {
    const predicate = vi.fn<(input: unknown, foundry: unknown, signal: AbortSignal) => Promise<boolean>>(() => Promise.resolve(true));
    const foundry = createFoundry("shipping").addOperation(conditional("ship", predicate, delegate("express", () => "express")));
    const signal = new AbortController().signal;

    await expect(foundry.forge({ input: 1, signal })).resolves.toBe("express");
    expect(predicate).toHaveBeenCalledWith(1, foundry, signal);
  });

  it.each([
    [true, "express", "express 20"],
    [false, "standard", "standard 20"],
  ])("compensation undoes only the branch that was taken (predicate %s)", async (taken, branch, output) => {
    const restored: unknown[][] = [];
    const { whenTrue, whenFalse } = branches(restored);
    const workflow = createWorkflow("shipping")
      .addOperation(conditional("ship", () => taken, whenTrue, whenFalse))
      .withOperation("fails", () => {
        throw new Error("boom");
      })
      .build();

    await expect(createSmith().forge(workflow, createFoundry("shipping"), { input: 20 })).rejects.toThrow();
    expect(restored).toEqual([[branch, output]]);
  });

  it("restores the branch named by a JSON round-tripped record, as if another process compensated", async () => {
    let record: unknown;
    const foundry = createFoundry("shipping")
      .use(async (_context, next) => {
        record = ((await next()) as RestoreDataResult<unknown, ConditionalRecord>).data;
        return record;
      })
      .addOperation(conditional("ship", () => false, branches([]).whenTrue, branches([]).whenFalse));
    await foundry.forge({ input: 7 });

    const parsed = JSON.parse(JSON.stringify(record)) as ConditionalRecord;
    expect(parsed).toEqual({ branch: "else", data: "standard 7" });

    // A fresh definition in "another process": nothing is shared with the run above but the record.
    const restored: unknown[][] = [];
    const { whenTrue, whenFalse } = branches(restored);
    const elsewhere = conditional("ship", () => true, whenTrue, whenFalse);
    await elsewhere.restore?.(parsed, createFoundry("shipping"), new AbortController().signal);
    expect(restored).toEqual([["standard", "standard 7"]]);
  });

  it("restores a branch with the restore data the branch itself returned", async () => {
    const restore = vi.fn();
    const chained: unknown[] = [];
    const whenTrue: Operation = { name: "reserve", forge: () => withRestoreData("chained", { reservation: "R-1" }), restore };
    const workflow = createWorkflow("shipping")
      .addOperation(conditional("ship", () => true, whenTrue))
      .withOperation("check", (input: unknown) => {
        chained.push(input);
        throw new Error("boom");
      })
      .build();

    await expect(createSmith().forge(workflow, createFoundry("shipping"))).rejects.toThrow();
    expect(chained).toEqual(["chained"]);
    expect(restore).toHaveBeenCalledWith({ reservation: "R-1" }, expect.anything(), expect.any(AbortSignal));
  });

  it("does nothing on restore when the predicate was false and there is no whenFalse", async () => {
    const restore = vi.fn();
    const operation = conditional("ship", () => false, delegate("express", () => 1, restore));
    expect(operation).toHaveProperty("restore", expect.any(Function));
    await operation.restore?.({ branch: "else", data: undefined }, createFoundry("shipping"), new AbortController().signal);
    expect(restore).not.toHaveBeenCalled();
  });

  it.each([
    ["undefined", undefined],
    ["a fallback value", "fallback"],
    ["an object that is no record of it", { branch: "then", data: 1, invoice: "INV-1" }],
  ])("undoes no branch when a layer answered for it with %s: neither branch ran to completion", async (_what, recovered) => {
    const restored: unknown[][] = [];
    const pay = conditional(
      "pay",
      () => true,
      delegate("charge card", () => Promise.reject(new Error("card declined")), () => void restored.push(["refund card"])),
      delegate("charge invoice", () => "INV-1", () => void restored.push(["cancel invoice"])),
    );
    const foundry = createFoundry("orders").use(errorHandlingMiddleware((error, context) => {
        if (context.operation.name === "pay") return recovered;
        throw error;
      }));
    const workflow = createWorkflow("orders").addOperation(pay).withOperation("ship", () => Promise.reject(new Error("no courier"))).build();
    const failed: unknown[] = [];
    const smith = createSmith();
    smith.on("operationRestoreFailed", (event) => void failed.push(event.error));

    await expect(smith.forge(workflow, foundry)).rejects.toThrow("no courier");
    expect(restored).toEqual([]);
    expect(failed).toEqual([]);
  });

  it("has no restore when neither branch has one", () => {
    expect(conditional("ship", () => true, delegate("a", () => 1), delegate("b", () => 2))).not.toHaveProperty("restore");
  });

  it("throws a TypeError naming the bad argument", () => {
    const op = delegate("a", () => 1);
    expect(() => conditional("", () => true, op)).toThrow("conditional(name)");
    expect(() => conditional("ship", "yes" as any, op)).toThrow(/predicate must be a function/);
    expect(() => conditional("ship", () => true, {} as any)).toThrow(/whenTrue/);
    expect(() => conditional("ship", () => true, op, { name: "b" } as any)).toThrow(/whenFalse/);
  });

  describe("after an abort", () => {
    /** A predicate the test answers, and the promise of its being asked. */
    function heldPredicate() {
      const [asked, answer] = [deferred(), deferred<boolean>()];
      const predicate = (): Promise<boolean> => (asked.resolve(), answer.promise);
      return { asked: asked.promise, answer, predicate };
    }
    const turns = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
    };

    it("starts no branch once the run was aborted while the predicate ran, and the snapshot is left to resume there", async () => {
      const { asked, answer, predicate } = heldPredicate();
      const charge = vi.fn(() => "charged");
      const provider = new MemoryPersistenceProvider();
      const controller = new AbortController();
      const foundry = usePersistence(createFoundry("pay"), provider, { instanceId: "p-1" })
        .withOperation("reserve", () => "reserved")
        .addOperation(conditional("maybe-charge", predicate, delegate("charge", charge)));
      const run = foundry.forge({ signal: controller.signal });
      await asked;
      controller.abort();
      answer.resolve(true);
      await expect(run).rejects.toMatchObject({ name: "AbortError" });
      expect(charge).not.toHaveBeenCalled();
      expect(provider.tryLoad("p-1", "pay")).toMatchObject({ status: "running", nextOperationIndex: 1 });
    });

    it("starts no branch after the smith's timeout rejected the run", async () => {
      const { asked, answer, predicate } = heldPredicate();
      const charge = vi.fn(() => "charged");
      const workflow = createWorkflow("pay").addOperation(conditional("maybe-charge", predicate, delegate("charge", charge))).build();
      const run = createSmith({ timeoutMs: 10 }).forge(workflow, createFoundry("pay"));
      await asked;
      await expect(run).rejects.toMatchObject({ code: "WORKFLOW_TIMEOUT" });
      answer.resolve(true);
      await turns(5);
      expect(charge).not.toHaveBeenCalled();
    });
  });
});
