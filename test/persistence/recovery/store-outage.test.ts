import { expect, it } from "vitest";
import { createWorkflow } from "../../../src/index.js";
import { createRecoveryCoordinator, MemoryPersistenceProvider, type WorkflowPersistenceProvider } from "../../../src/persistence/index.js";

// A store that stops answering for a whole lease is an outage, not another worker's claim: a pass
// reports it among the failures, where an operator watching `failed` (or onOutcome) sees it.

// A save that never settles, once armed: the claim still answers.
function savesHang(): { provider: MemoryPersistenceProvider; arm: () => void } {
  const provider = new MemoryPersistenceProvider();
  const save = provider.save.bind(provider);
  let hang = false;
  (provider as WorkflowPersistenceProvider).save = (snapshot, signal) => (hang ? new Promise<void>(() => undefined) : save(snapshot, signal));
  return { provider, arm: () => void (hang = true) };
}

it("a run whose checkpoints hang until its lease runs out is reported failed, naming the lease, not skipped as claimed", async () => {
  const { provider, arm } = savesHang();
  const workflow = createWorkflow("order").withOperation("charge", () => "charged").build();
  const coordinator = createRecoveryCoordinator({ provider, owner: "A", leaseTtlMs: 300, resolveWorkflow: () => workflow });
  await coordinator.enqueue(workflow, { instanceId: "order-1" });
  arm(); // the claim is answered; the run's first checkpoint hangs

  const report = await coordinator.resumeAll();

  expect(report.skipped).toEqual([]);
  expect(report.failed).toEqual([
    expect.objectContaining({ instanceId: "order-1", status: "failed", attempts: 1, deadLettered: false, error: expect.objectContaining({ code: "SNAPSHOT_CONFLICT", message: expect.stringContaining("the lease ran out") }) }),
  ]);
  await coordinator.close({ timeoutMs: 0 });
});
