import { describe, expect, it } from "vitest";
import { createFoundry, createSmith, createWorkflow, OperationTimeoutError, timeoutMiddleware } from "../../src/index.js";
import { MemoryPersistenceProvider, usePersistence } from "../../src/persistence/index.js";
import { deferred, rejectionOf } from "../support/promises.js";

// An operation that ignores its signal may finish after a timeout gave up on it. The run has gone
// on without it by then (failed, compensated, its record deleted): what it returns is written
// nowhere, or a record would come back, or move past an operation the run never finished.

/** Drains the microtask queue: the memory provider stores synchronously, so a late save would have run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function order(release: Promise<void>, restored: string[]) {
  return createWorkflow("order")
    .withOperation("reserve", () => "reserved", () => void restored.push("reserve"))
    .withOperation(
      "charge",
      async (_input, foundry) => {
        await release; // ignores its signal
        foundry.properties.paid = true;
        return "charged late";
      },
      () => void restored.push("charge"),
    )
    .withOperation("ship", () => "shipped")
    .build();
}

describe("an operation that completes after a timeout gave up on it", () => {
  it("under a smith: the compensated run's record stays deleted", async () => {
    const provider = new MemoryPersistenceProvider();
    const release = deferred();
    const restored: string[] = [];
    const workflow = order(release.promise, restored);
    const foundry = usePersistence(createFoundry("orders").use(timeoutMiddleware(20)), provider, { instanceId: "o-1" });

    expect(await rejectionOf(createSmith().forge(workflow, foundry))).toBeInstanceOf(OperationTimeoutError);
    expect(restored).toEqual(["reserve"]);
    expect(provider.tryLoad("o-1", workflow.id)).toBeUndefined();

    release.resolve();
    await settle();
    expect(provider.tryLoad("o-1", workflow.id)).toBeUndefined();
  });

  it("on a bare foundry: the record stays at the last checkpoint, so the next run does the operation again", async () => {
    const provider = new MemoryPersistenceProvider();
    const release = deferred();
    const workflow = order(release.promise, []);
    const foundry = usePersistence(createFoundry("orders").use(timeoutMiddleware(20)), provider, { instanceId: "o-2" });
    for (const operation of workflow.operations) foundry.addOperation(operation);

    expect(await rejectionOf(foundry.forge())).toBeInstanceOf(OperationTimeoutError);
    const before = provider.tryLoad("o-2", "orders");
    expect(before).toMatchObject({ nextOperationIndex: 1 });

    release.resolve();
    await settle();
    expect(provider.tryLoad("o-2", "orders")).toEqual(before);
  });
});
