import { expect, it } from "vitest";
import { createWorkflow } from "../../../src/index.js";
import { createRecoveryCoordinator, MemoryPersistenceProvider, type WorkflowExecutionSnapshot, type WorkflowPersistenceProvider } from "../../../src/persistence/index.js";

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

// Saves hang once armed; the first load after that (the run explaining its lost claim) lets
// `meanwhile` write the record first: what a late write of the run, or another process, left.
function landsMeanwhile(meanwhile: (stored: WorkflowExecutionSnapshot, provider: MemoryPersistenceProvider) => void): { provider: MemoryPersistenceProvider; arm: () => void } {
  const { provider, arm } = savesHang();
  const tryLoad = provider.tryLoad.bind(provider);
  let pending = true;
  (provider as WorkflowPersistenceProvider).tryLoad = (instanceId, workflowKey, signal) => {
    const stored = tryLoad(instanceId, workflowKey, signal);
    if (pending && stored !== undefined && stored.owner !== undefined) {
      pending = false;
      meanwhile(stored, provider);
    }
    return tryLoad(instanceId, workflowKey, signal);
  };
  return { provider, arm };
}

const writeAs = (provider: MemoryPersistenceProvider, snapshot: WorkflowExecutionSnapshot): void => void Object.getPrototypeOf(provider).save.call(provider, snapshot);

it.each([
  ["a renewal of its own that landed late, its lease in the future, is still an outage: failed", (stored: WorkflowExecutionSnapshot) => ({ ...stored, revision: stored.revision + 1, leaseExpiresAt: new Date(Date.now() + 60_000).toISOString() }), "failed"],
  ["its own failure record that landed late (failed is unfinished) is still an outage: failed", (stored: WorkflowExecutionSnapshot): WorkflowExecutionSnapshot => ({ ...stored, revision: stored.revision + 1, status: "failed", error: { name: "Error", message: "card declined", operationIndex: 0, operationName: "charge" } }), "failed"],
  ["a record another process of the same owner completed (kept) was taken over: skipped, claimed", (stored: WorkflowExecutionSnapshot) => ({ ...stored, revision: stored.revision + 1, status: "completed" as const }), "skipped"],
])("after its lease ran out, %s", async (_what, written, status) => {
  const { provider, arm } = landsMeanwhile((stored, store) => writeAs(store, written(stored)));
  const workflow = createWorkflow("order").withOperation("charge", () => "charged").build();
  const coordinator = createRecoveryCoordinator({ provider, owner: "A", leaseTtlMs: 300, resolveWorkflow: () => workflow });
  await coordinator.enqueue(workflow, { instanceId: "order-2" });
  arm();

  const report = await coordinator.resumeAll();

  expect([...report.failed, ...report.skipped].map((outcome) => outcome.status)).toEqual([status]);
  await coordinator.close({ timeoutMs: 0 });
});
