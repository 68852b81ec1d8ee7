import { SpanStatusCode } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { createFoundry, type Foundry } from "../../src/index.js";
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
