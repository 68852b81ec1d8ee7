import { SpanStatusCode } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { createFoundry, type Foundry, type OperationMiddleware } from "../../src/index.js";
import { ownAnnotationKeys } from "../../src/annotations.js";
import { annotationKeys } from "../../src/otel/attributes.js";
import { instrument } from "../../src/otel/index.js";
import { MemoryPersistenceProvider, usePersistence, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { createHarness, parentOf, type Harness } from "./harness.js";

const keys = { instanceId: "order-7", workflowKey: "Order-v1" };

function order(otel: Harness, provider: MemoryPersistenceProvider, failAt: number | undefined): Foundry<any> {
  const foundry = createFoundry("Order");
  for (let i = 0; i < 4; i++) {
    foundry.withOperation(`step-${i}`, (input: number | undefined) => {
      if (i === failAt) throw new Error(`step ${i} failed`);
      return (input ?? 0) + 1;
    });
  }
  instrument(foundry, otel.options);
  return usePersistence(foundry, provider, keys);
}

describe("instrument(foundry) with persistence", () => {
  it("continues the trace of the run that started the instance when a later run resumes it", async () => {
    const otel = createHarness();
    const provider = new MemoryPersistenceProvider();
    await expect(order(otel, provider, 2).forge()).rejects.toThrow(/step 2 failed/);
    const [first] = otel.named("run Order");
    // The stored snapshot carries the first run's trace context.
    const stored = provider.tryLoad(keys.instanceId, keys.workflowKey);
    expect(JSON.stringify(stored)).toContain(`00-${first?.spanContext().traceId}-${first?.spanContext().spanId}-01`);

    expect(await order(otel, provider, undefined).forge()).toBe(4);
    const [, second] = otel.named("run Order");
    expect(second?.spanContext().traceId).toBe(first?.spanContext().traceId);
    expect(parentOf(second!)).toBe(first?.spanContext().spanId);
    expect(second?.attributes["workflowforge.run.resumed"]).toBe(true);
    expect(second?.attributes["workflowforge.run.resumed_from"]).toBe(2);
    expect(second?.events.map((event) => [event.name, event.attributes?.["workflowforge.operation.index"]])).toEqual([
      ["workflowforge.operation.skipped", 0],
      ["workflowforge.operation.skipped", 1],
    ]);

    // Step 2 ran twice, once per run, and the second time is marked.
    const step2 = otel.named("operation step-2");
    expect(step2.map(parentOf)).toEqual([first?.spanContext().spanId, second?.spanContext().spanId]);
    expect(step2.map((span) => span.attributes["workflowforge.operation.rerun"])).toEqual([undefined, true]);
    expect(otel.spans().filter((span) => span.name.startsWith("operation ")).map((span) => span.attributes["workflowforge.operation.index"])).toEqual([0, 1, 2, 2, 3]);
  });
});

// A store that loses its connection when the run's last operation has completed: the run's final
// write (a completed record's delete, or its save under onComplete "keep") fails.
function failingLastWrite(provider: MemoryPersistenceProvider): WorkflowPersistenceProvider {
  return {
    tryLoad: (instanceId, workflowKey) => provider.tryLoad(instanceId, workflowKey),
    save: (snapshot, expectedRevision) => {
      if (snapshot.nextOperationIndex === snapshot.operationCount) throw new Error("connection lost");
      return provider.save(snapshot, expectedRevision);
    },
    delete: () => {
      throw new Error("connection lost");
    },
  };
}

describe("a run whose last checkpoint fails", () => {
  it.each(["before", "after"] as const)("is reported as failed when instrument() comes %s usePersistence", async (order) => {
    const otel = createHarness();
    const foundry = createFoundry("Checkout")
      .withOperation("reserve", () => 1)
      .withOperation("charge", () => 2);
    const persist = (): void => void usePersistence(foundry, failingLastWrite(new MemoryPersistenceProvider()), { instanceId: `checkout-${order}` });
    if (order === "after") persist();
    instrument(foundry, otel.options);
    if (order === "before") persist();
    await expect(foundry.forge()).rejects.toThrow(/connection lost/);
    const [run] = otel.named("run Checkout");
    expect(run?.status.code).toBe(SpanStatusCode.ERROR);
    expect(run?.status.message).toMatch(/connection lost/);
    expect(await otel.counter("workflowforge.run.failed")).toBe(1);
    expect(await otel.counter("workflowforge.run.completed")).toBe(0);
  });
});

describe("instrument(foundry) beside an extension that uses every annotation", () => {
  // An extension may set all 32 annotations a run holds: the trace context counts toward none of them.
  const fillsAnnotations: OperationMiddleware = async ({ run, index }, next) => {
    if (index === 0) for (let i = 0; i < 32; i++) run.annotations.set(`ext.${i}`, "v");
    return next();
  };

  it.each([false, true])("the run completes as it does uninstrumented (lease: %s)", async (leased) => {
    const otel = createHarness();
    const provider = new MemoryPersistenceProvider();
    const foundry = (): Foundry<any> => {
      const built = createFoundry("Order").withOperation("a", () => 1).withOperation("b", (input: number) => input + 1);
      instrument(built, otel.options);
      built.use(fillsAnnotations);
      return usePersistence(built, provider, { ...keys, ...(leased ? { lease: { ttlMs: 30_000 } } : {}) });
    };
    expect(Object.values(annotationKeys).every((key) => ownAnnotationKeys.has(key))).toBe(true);

    expect(await foundry().forge()).toBe(2);
    const [first] = otel.named("run Order");
    expect(first?.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it("a stored record with 32 annotations and the trace context is read back, and the run resumes it in the same trace", async () => {
    const otel = createHarness();
    const provider = new MemoryPersistenceProvider();
    const build = (fail: boolean): Foundry<any> => {
      const built = createFoundry("Order").withOperation("a", () => 1).withOperation("b", (input: number) => {
        if (fail) throw new Error("b failed");
        return input + 1;
      });
      instrument(built, otel.options);
      built.use(fillsAnnotations);
      return usePersistence(built, provider, keys);
    };
    await expect(build(true).forge()).rejects.toThrow(/b failed/);
    expect(Object.keys(provider.tryLoad(keys.instanceId, keys.workflowKey)?.annotations ?? {})).toHaveLength(33);

    expect(await build(false).forge()).toBe(2);
    const [first, second] = otel.named("run Order");
    expect(second?.spanContext().traceId).toBe(first?.spanContext().traceId);
  });
});
