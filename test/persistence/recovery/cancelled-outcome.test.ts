import { expect, it } from "vitest";
import { action, createWorkflow, sleep } from "../../../src/index.js";
import { createRecoveryCoordinator, MemoryPersistenceProvider } from "../../../src/persistence/index.js";

it("a pass that compensates a cancelled instance reports it cancelled, as it is stored, not failed", async () => {
  const provider = new MemoryPersistenceProvider();
  const restored: string[] = [];
  const workflow = createWorkflow("nap")
    .addOperation(action("reserve", () => undefined, () => void restored.push("reserve")))
    .addOperation(sleep("nap", 3_600_000))
    .build();
  const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow });
  await coordinator.enqueue(workflow, { instanceId: "nap-1" });
  expect((await coordinator.resumeAll()).suspended).toHaveLength(1);
  await coordinator.cancel("nap-1", workflow.id, { compensate: true });
  const report = await coordinator.resumeAll();
  expect(restored).toEqual(["reserve"]);
  expect(report.failed).toEqual([]);
  expect(report.cancelled).toEqual([{ instanceId: "nap-1", workflowKey: workflow.id, status: "cancelled" }]);
  expect(provider.tryLoad("nap-1", workflow.id)).toMatchObject({ status: "cancelled" });
});
