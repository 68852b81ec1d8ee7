import { describe, expect, it } from "vitest";
import { createFoundry, type OperationMiddleware } from "../../src/index.js";
import { MemoryPersistenceProvider, usePersistence, type WorkflowExecutionSnapshot } from "../../src/persistence/index.js";
import { RecordingProvider, countedFoundry, rejectionOf, uniqueKeys } from "./helpers.js";

/** Sets `key` to `value` once, at operation `index`, and records what each operation saw. */
function annotating(key: string, value: string, index: number, seen: (string | undefined)[]): OperationMiddleware {
  return async (context, next) => {
    seen.push(context.run.annotations.get(key));
    if (context.index === index) context.run.annotations.set(key, value);
    return next();
  };
}

describe("run annotations under persistence", () => {
  it("are written with the next checkpoint, with no save of their own", async () => {
    const provider = new RecordingProvider();
    const { foundry } = countedFoundry(3);
    foundry.use(annotating("otel.traceparent", "00-trace-span-01", 1, []));
    usePersistence(foundry, provider, { ...uniqueKeys("annotations"), onComplete: "keep" });
    await foundry.forge();
    expect(provider.count("save")).toBe(3);
    expect(provider.saves.map((snapshot) => snapshot.annotations)).toEqual([undefined, { "otel.traceparent": "00-trace-span-01" }, { "otel.traceparent": "00-trace-span-01" }]);
  });

  it("are restored on resume before any operation middleware runs, whatever its position", async () => {
    const keys = uniqueKeys("annotations-resume");
    const provider = new MemoryPersistenceProvider();
    const failing = countedFoundry(3, { onForge: (index, attempt) => { if (index === 2 && attempt === 1) throw new Error("crash"); } });
    failing.foundry.use(annotating("otel.traceparent", "00-trace-span-01", 0, []));
    usePersistence(failing.foundry, provider, keys);
    await rejectionOf(failing.foundry.forge());

    const seenOutside: (string | undefined)[] = [];
    const seenInside: (string | undefined)[] = [];
    const resumed = countedFoundry(3, { log: failing.log, onForge: () => undefined });
    resumed.foundry.use(annotating("otel.traceparent", "other", -1, seenOutside));
    usePersistence(resumed.foundry, provider, keys);
    resumed.foundry.use(annotating("otel.traceparent", "other", -1, seenInside));
    await resumed.foundry.forge();
    expect(seenOutside).toEqual(["00-trace-span-01"]);
    expect(seenInside).toEqual(["00-trace-span-01"]);
  });

  it("are kept by a failure record, including those set by the failed operation's run", async () => {
    const keys = uniqueKeys("annotations-failure");
    const provider = new RecordingProvider();
    const foundry = createFoundry("Annotated", { executionId: keys.instanceId })
      .withOperation("a", () => "a")
      .withOperation("b", () => {
        throw new Error("declined");
      });
    foundry.use(annotating("audit.by", "worker-a", 1, []));
    usePersistence(foundry, provider, keys);
    await rejectionOf(foundry.forge());
    const stored = provider.inner.tryLoad(keys.instanceId, keys.workflowKey) as WorkflowExecutionSnapshot;
    expect(stored.status).toBe("failed");
    expect(stored.annotations).toEqual({ "audit.by": "worker-a" });
  });
});
