import { describe, expect, it } from "vitest";
import { createFoundry, createSmith, createWorkflow, type OperationMiddleware } from "../../src/index.js";
import { MemoryPersistenceProvider, usePersistence } from "../../src/persistence/index.js";
import { rejectionOf } from "../support/promises.js";

// A middleware whose start hook fails (a tracer that cannot reach its collector) fails the run
// before any operation runs. What an earlier run completed is progress, not this run's to undo:
// it stays stored, nothing is restored, and the next run resumes it.

const brokenTracer: OperationMiddleware = Object.assign(async (_context: unknown, next: () => Promise<unknown>) => next(), {
  start: () => {
    throw new Error("tracer init failed");
  },
});

// Run 1 stops in "charge" with an abort (no compensation after an abort): "reserve" stays done.
function order(log: string[], stop: AbortController) {
  return createWorkflow("order")
    .withOperation("reserve", () => void log.push("reserve"), () => void log.push("release"))
    .withOperation("charge", () => {
      if (!stop.signal.aborted) {
        stop.abort(new Error("worker stopping"));
        throw stop.signal.reason;
      }
      log.push("charge");
    })
    .build();
}

describe("a start hook that throws after persistence resumed the run", () => {
  it("keeps what an earlier run stored and restores nothing; the next run resumes it", async () => {
    const provider = new MemoryPersistenceProvider();
    const log: string[] = [];
    const stop = new AbortController();
    const workflow = order(log, stop);
    const keys = { instanceId: "o-1" };
    expect(await rejectionOf(createSmith().forge(workflow, usePersistence(createFoundry("orders"), provider, keys), { signal: stop.signal }))).toMatchObject({ name: "AbortError" });
    expect(provider.tryLoad("o-1", workflow.id)).toMatchObject({ status: "running", nextOperationIndex: 1 });

    const failed = await rejectionOf(createSmith().forge(workflow, usePersistence(createFoundry("orders"), provider, keys).use(brokenTracer)));
    expect(failed).toMatchObject({ code: "OPERATION_FAILED", operationIndex: 0, cause: { message: "tracer init failed" } });
    expect(log).toEqual(["reserve"]);
    expect(provider.tryLoad("o-1", workflow.id)).toMatchObject({ status: "running", nextOperationIndex: 1 });

    await createSmith().forge(workflow, usePersistence(createFoundry("orders"), provider, keys));
    expect(log).toEqual(["reserve", "charge"]);
    expect(provider.tryLoad("o-1", workflow.id)).toBeUndefined();
  });
});
