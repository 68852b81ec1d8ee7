import { describe, it, expect } from "vitest";
import { MiddlewareError, createFoundry, createSmith, type OperationMiddleware, type WorkflowMiddleware } from "../src/index.js";
import { usePersistence } from "../src/persistence/index.js";
import { countedFoundry, countedWorkflow, runCounts } from "./support/counted-workflow.js";
import { rejectionOf, settle } from "./support/promises.js";
import { RecordingProvider } from "./support/recording-provider.js";
import { uniqueKeys } from "./support/run-snapshots.js";
import { deferred } from "./support/promises.js";

// A middleware that starts the inner layers and returns without waiting for them.
const unawaited: OperationMiddleware = (_, next) => {
  void next();
};

function watch(promise: Promise<unknown>): () => boolean {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  return () => settled;
}

describe("a middleware that does not await next()", () => {
  it("cannot start the next operation before the checkpoint lands, and fails the run naming itself", async () => {
    const saveGate = deferred();
    const provider = new RecordingProvider(undefined, { save: () => saveGate.promise });
    const { foundry, log } = countedFoundry(2);
    foundry.use(unawaited);
    usePersistence(foundry, provider, uniqueKeys());

    const run = foundry.forge();
    const settled = watch(run);
    await settle();
    expect(provider.count("save")).toBe(1);
    expect(runCounts(log, 2)).toEqual([1, 0]);
    expect(settled()).toBe(false);

    saveGate.resolve();
    const error = await rejectionOf(run);
    expect(error).toBeInstanceOf(MiddlewareError);
    expect(error).toMatchObject({ code: "MIDDLEWARE_MISUSE", workflowName: "Counted", operationName: "op-0", operationIndex: 0 });
    expect((error as Error).message).toContain("operation middleware #0 resolved before the layers inside it settled");
    expect(runCounts(log, 2)).toEqual([1, 0]);
  });

  it("does not let forge() settle before the final delete lands", async () => {
    const deleteGate = deferred();
    const provider = new RecordingProvider(undefined, { delete: () => deleteGate.promise });
    const { foundry } = countedFoundry(1);
    foundry.use(unawaited);
    usePersistence(foundry, provider, uniqueKeys());

    const run = foundry.forge();
    const settled = watch(run);
    await settle();
    expect(provider.count("delete")).toBe(1);
    expect(settled()).toBe(false);
    deleteGate.resolve();
    await expect(run).rejects.toBeInstanceOf(MiddlewareError);
  });

  it("inside persistence, cannot let a checkpoint be saved before its operation finished", async () => {
    const operationGate = deferred();
    const provider = new RecordingProvider();
    const { foundry } = countedFoundry(2, { onForge: () => operationGate.promise });
    usePersistence(foundry, provider, uniqueKeys());
    foundry.use(unawaited);

    const run = foundry.forge();
    await settle();
    expect(provider.count("save")).toBe(0);
    operationGate.resolve();
    const error = await rejectionOf(run);
    expect(error).toBeInstanceOf(MiddlewareError);
    expect(error).toMatchObject({ operationName: "op-0", operationIndex: 0 });
    expect((error as Error).message).toContain("middleware #1");
    expect(provider.saves.every((snapshot) => snapshot.nextOperationIndex === 0)).toBe(true);
  });

  it("is caught in the first operation of every run, not only of the first run", async () => {
    let misbehave = false;
    const { foundry, log } = countedFoundry(2);
    foundry.use(async (_, next) => {
      if (!misbehave) return next();
      void next();
      await Promise.resolve();
      return undefined;
    });
    usePersistence(foundry, new RecordingProvider(), uniqueKeys());

    await foundry.forge();
    misbehave = true;
    await expect(foundry.forge()).rejects.toBeInstanceOf(MiddlewareError);
    expect(runCounts(log, 2)).toEqual([2, 1]);
  });

  it("as workflow middleware, makes smith.forge() wait for the run and reject naming the workflow", async () => {
    const operationGate = deferred();
    const { workflow, log } = countedWorkflow(1, { onForge: () => operationGate.promise });
    const smith = createSmith().use(((_, next) => {
      void next();
    }) as WorkflowMiddleware);
    const { foundry } = countedFoundry(0);

    const run = smith.forge(workflow, foundry);
    const settled = watch(run);
    await settle();
    expect(settled()).toBe(false);
    operationGate.resolve();
    const error = await rejectionOf(run);
    expect(error).toBeInstanceOf(MiddlewareError);
    expect(error).toMatchObject({ workflowName: "CountedWorkflow" });
    expect((error as Error).message).toContain("workflow middleware #0");
    expect(runCounts(log, 1)).toEqual([1]);
  });
});

describe("middleware misuse at an operation after the first", () => {
  it("lets an outer layer recover from an inner one that rejected early (a deadline of the user's own), the operation still running", async () => {
    const log: string[] = [];
    const slow = deferred();
    const foundry = createFoundry("orders")
      .use(async (_context, next) => next().catch(() => "fallback"))
      .use((context, next) => (context.index === 0 ? Promise.race([next(), Promise.reject(new Error("slower than allowed"))]) : next()))
      .withOperation("lookup", async () => {
        await slow.promise;
        log.push("lookup finished");
      })
      .withOperation("render", (input: string) => `rendered ${input}`);

    await expect(foundry.forge()).resolves.toBe("rendered fallback");
    slow.resolve();
    await settle();
    expect(log).toEqual(["lookup finished"]);
  });

  it("does not start an operation from a next() called after its chain settled, even after the run ended", async () => {
    const log: string[] = [];
    const late = deferred<unknown>();
    const foundry = createFoundry("orders")
      .use((context, next) => {
        if (context.index !== 1) return next();
        // A cache answers at once, then calls next() later "to refresh": the operation would run after the run ended.
        setTimeout(() => late.resolve(next().then(() => "ran", (error: unknown) => error)), 0);
        return "cached";
      })
      .withOperation("reserve", () => void log.push("reserve"))
      .withOperation("charge", () => void log.push("charge"));

    await expect(foundry.forge()).resolves.toBe("cached");
    const outcome = await late.promise;
    expect(outcome).toBeInstanceOf(MiddlewareError);
    expect((outcome as Error).message).toContain("called next() after its operation had settled");
    expect(log).toEqual(["reserve"]);
    expect(foundry.isRunning).toBe(false);
  });
});
