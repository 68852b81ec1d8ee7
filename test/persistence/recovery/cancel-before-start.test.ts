import { describe, expect, it } from "vitest";
import { createWorkflow } from "../../../src/index.js";
import { createRecoveryCoordinator, MemoryPersistenceProvider, type WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { deferred } from "../../support/promises.js";

// A pass claims a page of records at once; the ones it cannot start yet wait for a lane, claimed.
// A cancellation landing meanwhile is stored over the claim, and the run must see it: its claim is
// read again before it starts, once it has waited (SPEC: "nothing of it runs again").

const until = async (done: () => boolean): Promise<void> => {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
};

/**
 * A pass of coordinator "A" with two lanes over four instances: long-1 and long-2 take both lanes
 * and hold them until `release`; order-1 is claimed beside long-2 and waits for a lane. Resolves
 * once it waits, after `beforePass` (called once everything is enqueued).
 */
async function orderWaitingForALane(provider: MemoryPersistenceProvider, beforePass = (): void => undefined) {
  const release = deferred();
  const started: string[] = [];
  const workflow = createWorkflow("order")
    .withOperation("charge", async (_input, foundry) => {
      started.push(foundry.executionId);
      if (foundry.executionId.startsWith("long")) await release.promise;
    })
    .build();
  const coordinator = createRecoveryCoordinator({ provider, owner: "A", concurrency: 2, resolveWorkflow: () => workflow });
  for (const instanceId of ["long-1", "quick", "long-2", "order-1"]) {
    await coordinator.enqueue(workflow, { instanceId });
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  beforePass();
  const pass = coordinator.resumeAll();
  await until(() => started.includes("long-2"));
  // Then longer than a claim waits unread, and the lanes free up.
  const waitedLong = async (): Promise<void> => {
    await new Promise((resolve) => setTimeout(resolve, 150));
    release.resolve();
  };
  return { workflow, coordinator, pass, started, waitedLong };
}

it("a claimed instance cancelled while it waited for a lane never starts, and is reported cancelled", async () => {
  const provider = new MemoryPersistenceProvider();
  const { workflow, coordinator, pass, started, waitedLong } = await orderWaitingForALane(provider);
  const other = createRecoveryCoordinator({ provider, owner: "B", resolveWorkflow: () => workflow });
  expect(provider.tryLoad("order-1", workflow.id)).toMatchObject({ owner: "A", leaseExpiresAt: expect.any(String) });

  expect(await other.cancel("order-1", workflow.id)).toMatchObject({ result: "cancelled" });
  await waitedLong();
  const report = await pass;

  expect(started).not.toContain("order-1");
  expect(report.cancelled).toEqual([{ instanceId: "order-1", workflowKey: workflow.id, status: "cancelled" }]);
  expect(provider.tryLoad("order-1", workflow.id)).toMatchObject({ status: "cancelled" });
  await Promise.all([coordinator.close(), other.close()]);
});

// The read again is a courtesy to cancellations: when it fails the run goes on (its compare-and-set
// still guards the record), and close() does not wait for it.
describe("a claim read again before it starts, from a store that fails or hangs then", () => {
  async function waitedClaim(failLoad: "throws" | "hangs") {
    const provider = new MemoryPersistenceProvider();
    const reading = deferred();
    const tryLoad = provider.tryLoad.bind(provider);
    let armed = false; // once enqueued
    (provider as WorkflowPersistenceProvider).tryLoad = (instanceId, workflowKey, signal) => {
      if (!armed || instanceId !== "order-1") return tryLoad(instanceId, workflowKey, signal);
      reading.resolve();
      return failLoad === "throws" ? Promise.reject(new Error("connection reset")) : new Promise(() => undefined);
    };
    const waiting = await orderWaitingForALane(provider, () => void (armed = true));
    await waiting.waitedLong();
    return { ...waiting, provider, reading: reading.promise };
  }

  it("a read that fails lets the run go on", async () => {
    const { coordinator, pass, started } = await waitedClaim("throws");
    const report = await pass;
    expect(started).toContain("order-1");
    expect(report.resumed.map((outcome) => outcome.instanceId)).toContain("order-1");
    await coordinator.close();
  });

  it("close() does not wait for a read that hangs: the claim is given back, reported closed", async () => {
    const { provider, coordinator, pass, reading, started } = await waitedClaim("hangs");
    await reading;
    await coordinator.close({ timeoutMs: 100 });
    const report = await pass;
    expect(started).not.toContain("order-1");
    expect(report.skipped).toEqual([expect.objectContaining({ instanceId: "order-1", reason: "closed" })]);
    expect((await provider.list({})).find((snapshot) => snapshot.foundryExecutionId === "order-1")?.leaseExpiresAt).toBeUndefined();
  });
});
