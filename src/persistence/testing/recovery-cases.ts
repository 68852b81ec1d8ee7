import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createFoundry } from "../../foundry.js";
import { isWorkflowForgeError } from "../../errors.js";
import { createWorkflow } from "../../workflow.js";
import { usePersistence } from "../middleware.js";
import type { WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { createRecoveryCoordinator } from "../recovery/coordinator.js";
import { listSnapshots } from "../recovery/list.js";
import type { ConformanceCase } from "./cases.js";

const STEPS = 3;
const INSTANCES = 6;

/** A 3-step workflow under a name unique to this test, counting how often each step of each instance ran. */
function countingWorkflow(runs: Map<string, number>) {
  let builder = createWorkflow(`ConformanceRecovery-${randomUUID()}`).withVersion("1");
  for (let index = 0; index < STEPS; index++) {
    builder = builder.addOperation({
      name: `step-${index}`,
      forge: async (input: number | undefined, foundry) => {
        const key = `${foundry.executionId}#${index}`;
        runs.set(key, (runs.get(key) ?? 0) + 1);
        await new Promise((resolve) => setTimeout(resolve, 1));
        return (input ?? 0) + 1;
      },
    });
  }
  return builder.build();
}

// The provider as seen through a connection that stops answering: from the first save of the
// checkpoint after operation `hungAt` on, calls are never answered (and never reach the store).
// By what is saved, not by counting saves: a lease renewal may come between any two checkpoints
// on a busy machine.
function hangingAt(provider: WorkflowPersistenceProvider, hungAt: number): WorkflowPersistenceProvider {
  let hung = false;
  const never = new Promise<never>(() => undefined);
  return {
    // Only what it passes on: its compare-and-set, not methods (list, the mailbox) it has not.
    ...(provider.capabilities?.compareAndSet === true ? { capabilities: { compareAndSet: true } } : {}),
    save: (snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal) => {
      hung ||= snapshot.nextOperationIndex > hungAt;
      return hung ? never : provider.save(snapshot, signal);
    },
    tryLoad: (id: string, key: string, signal?: AbortSignal) => (hung ? never : provider.tryLoad(id, key, signal)),
    delete: (id: string, key: string, signal?: AbortSignal) => (hung ? never : provider.delete(id, key, signal)),
  };
}

function stepsFoundry(instanceId: string, ran: string[]) {
  const foundry = createFoundry("ConformanceHang", { executionId: instanceId });
  for (let index = 0; index < STEPS; index++) foundry.withOperation(`step-${index}`, () => void ran.push(`step-${index}`));
  return foundry;
}

export const recoveryCases: ConformanceCase[] = [
  {
    group: "recovery",
    name: "a leased run whose store stops answering rejects within about one lease, and another owner then resumes it from the last checkpoint",
    async run(provider: WorkflowPersistenceProvider) {
      // Long enough for a save to land within a quarter of it on a busy machine (a durable store's fsync).
      const ttlMs = 1_000;
      const instanceId = `hang-${randomUUID()}`;
      const ran: string[] = [];
      // The claim, the checkpoint after step 0 and any renewal land; the checkpoint after step 1 never answers.
      const hung = usePersistence(stepsFoundry(instanceId, ran), hangingAt(provider, 1), { owner: "conformance-hung", lease: { ttlMs } });
      const error = await hung.forge().then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      // A run that never got as far as the case cuts the store off says nothing of leases: a provider call before then hung.
      const cutOff = `the run must get through step-0 and step-1 before the case stops the provider answering, but ran ${JSON.stringify(ran)}`;
      const conflict = isWorkflowForgeError(error) && error.code === "SNAPSHOT_CONFLICT";
      assert.ok(ran.length >= 2, `${cutOff} and rejected with ${String(error)}${conflict ? `: a provider call before then did not settle within the ${ttlMs} ms lease` : ""}`);
      assert.ok(conflict, `the run must reject with SnapshotConflictError once its lease ran out, got ${String(error)}`);
      assert.deepEqual(ran, ["step-0", "step-1"], "no operation starts after the store stopped answering");
      const stored = (await provider.tryLoad(instanceId, "ConformanceHang")) ?? undefined;
      assert.equal(stored?.nextOperationIndex, 1, "the store keeps the last checkpoint that reached it");
      const expiresAt = Date.parse(stored?.leaseExpiresAt ?? "");
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 20));
      const takeover = usePersistence(stepsFoundry(instanceId, ran), provider, { owner: "conformance-next", lease: { ttlMs } });
      await takeover.forge();
      assert.deepEqual(ran, ["step-0", "step-1", "step-1", "step-2"], "the next owner re-runs only the operation whose checkpoint never landed");
      assert.equal((await provider.tryLoad(instanceId, "ConformanceHang")) ?? undefined, undefined, "the completed run deletes its snapshot");
    },
  },
  {
    group: "recovery",
    name: "two recovery coordinators sharing the provider complete every enqueued instance once, and leave nothing to list",
    async run(provider: WorkflowPersistenceProvider) {
      const runs = new Map<string, number>();
      const workflow = countingWorkflow(runs);
      const coordinator = (owner: string) => createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow, owner, leaseTtlMs: 10_000, concurrency: 3 });
      const a = coordinator("conformance-a");
      const ids = Array.from({ length: INSTANCES }, (_, i) => `recovery-${i}-${randomUUID()}`);
      for (const instanceId of ids) await a.enqueue(workflow, { instanceId });

      const reports = await Promise.all([a.resumeAll({ workflowName: workflow.name }), coordinator("conformance-b").resumeAll({ workflowName: workflow.name })]);

      const resumed = reports.flatMap((report) => report.resumed);
      assert.deepEqual(resumed.map((item) => item.instanceId).sort(), [...ids].sort(), "every instance is resumed by exactly one coordinator");
      assert.ok(resumed.every((item) => item.output === STEPS), "output chaining holds");
      assert.deepEqual(reports.flatMap((report) => report.failed), [], "no failures");
      // The other coordinator skips what is claimed, or what was already finished and deleted when it looked.
      assert.ok(reports.flatMap((report) => report.skipped).every((item) => item.reason === "claimed" || item.reason === "absent"), "only claimed or finished instances are skipped");
      assert.ok([...runs.values()].every((count) => count === 1) && runs.size === INSTANCES * STEPS, "each step of each instance ran once");
      assert.deepEqual(await listSnapshots(provider, { workflowName: workflow.name }, undefined), [], "completed instances are deleted");
    },
  },
];
