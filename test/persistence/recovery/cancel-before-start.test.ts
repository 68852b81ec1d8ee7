import { expect, it } from "vitest";
import { createWorkflow } from "../../../src/index.js";
import { createRecoveryCoordinator, MemoryPersistenceProvider } from "../../../src/persistence/index.js";
import { deferred } from "../../support/promises.js";

// A pass claims a page of records at once; the ones it cannot start yet wait for a lane, claimed.
// A cancellation landing meanwhile is stored over the claim, and the run must see it: its claim is
// read again before it starts, once it has waited (SPEC: "nothing of it runs again").

const until = async (done: () => boolean): Promise<void> => {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
};

it("a claimed instance cancelled while it waited for a lane never starts, and is reported cancelled", async () => {
  const provider = new MemoryPersistenceProvider();
  const release = deferred();
  const started: string[] = [];
  const workflow = createWorkflow("order")
    .withOperation("charge", async (_input, foundry) => {
      started.push(foundry.executionId);
      if (foundry.executionId.startsWith("long")) await release.promise;
    })
    .build();
  const coordinator = createRecoveryCoordinator({ provider, owner: "A", concurrency: 2, resolveWorkflow: () => workflow });
  const other = createRecoveryCoordinator({ provider, owner: "B", resolveWorkflow: () => workflow });
  // Claimed in two pages: long-1 and long-2 take both lanes; order-1 is claimed beside long-2 and waits.
  for (const instanceId of ["long-1", "quick", "long-2", "order-1"]) {
    await coordinator.enqueue(workflow, { instanceId });
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const pass = coordinator.resumeAll();
  await until(() => started.includes("long-2"));
  expect(provider.tryLoad("order-1", workflow.id)).toMatchObject({ owner: "A", leaseExpiresAt: expect.any(String) });

  expect(await other.cancel("order-1", workflow.id)).toMatchObject({ result: "cancelled" });
  await new Promise((resolve) => setTimeout(resolve, 150)); // longer than a claim waits unread
  release.resolve();
  const report = await pass;

  expect(started).not.toContain("order-1");
  expect(report.cancelled).toEqual([{ instanceId: "order-1", workflowKey: workflow.id, status: "cancelled" }]);
  expect(provider.tryLoad("order-1", workflow.id)).toMatchObject({ status: "cancelled" });
  await Promise.all([coordinator.close(), other.close()]);
});
