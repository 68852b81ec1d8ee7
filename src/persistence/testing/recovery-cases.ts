import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createWorkflow } from "../../workflow.js";
import type { WorkflowPersistenceProvider } from "../provider.js";
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

export const recoveryCases: ConformanceCase[] = [
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
