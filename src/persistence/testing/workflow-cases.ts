import assert from "node:assert/strict";
import { createFoundry, type Foundry } from "../../foundry.js";
import { usePersistence } from "../middleware.js";
import type { WorkflowPersistenceProvider } from "../provider.js";
import type { ConformanceCase } from "./cases.js";
import { randomKeys } from "./fixtures.js";

const STEPS = 6;
type OrderProperties = { total: number; touched: number[] };
const WORKFLOW_KEY = "ConformanceWorkflow-v1";

/**
 * Wraps `provider` so that the write that would record step `k` (its checkpoint, or the delete
 * after the last step) never lands: what a process killed at that moment leaves behind.
 */
function crashingAfter(provider: WorkflowPersistenceProvider, k: number): WorkflowPersistenceProvider {
  const crash = (): never => {
    throw new Error(`simulated crash after step ${k}`);
  };
  return {
    save: (snapshot, signal) => (snapshot.nextOperationIndex === k + 1 ? crash() : provider.save(snapshot, signal)),
    tryLoad: (instance, workflow, signal) => provider.tryLoad(instance, workflow, signal),
    delete: (instance, workflow, signal) => (k === STEPS - 1 ? crash() : provider.delete(instance, workflow, signal)),
  };
}

function orderFoundry(provider: WorkflowPersistenceProvider, instanceId: string, runs: number[]) {
  const foundry: Foundry<OrderProperties> = createFoundry<OrderProperties>("ConformanceWorkflow", { properties: { total: 0, touched: [] } });
  for (let index = 0; index < STEPS; index++) {
    foundry.withOperation(`step-${index}`, (input: number | undefined, f) => {
      runs[index] = (runs[index] ?? 0) + 1;
      f.properties.total += index;
      f.properties.touched = [...f.properties.touched, index];
      return (input ?? 0) + index + 1;
    });
  }
  return usePersistence(foundry, provider, { instanceId, workflowKey: WORKFLOW_KEY });
}

export const workflowCases: ConformanceCase[] = [
  {
    group: "workflow",
    name: "a workflow that crashes after step k resumes through the real middleware, completes and leaves no snapshot",
    async run(provider) {
      for (const k of [0, 2, STEPS - 1]) {
        const instanceId = randomKeys(`crash-${k}`).foundryExecutionId;
        const runs: number[] = [];
        await assert.rejects(orderFoundry(crashingAfter(provider, k), instanceId, runs).forge(), { code: "PERSISTENCE" });
        const stored = (await provider.tryLoad(instanceId, WORKFLOW_KEY)) ?? undefined;
        assert.equal(stored?.nextOperationIndex, k === 0 ? undefined : k, "the last checkpoint is the one before the crash");

        const resumed = orderFoundry(provider, instanceId, runs);
        assert.equal(await resumed.forge<number>(), (STEPS * (STEPS + 1)) / 2, "output chaining survives the resume");
        assert.deepEqual(runs, Array.from({ length: STEPS }, (_, i) => (i === k ? 2 : 1)), "only the step whose checkpoint was lost runs again");
        assert.deepEqual(resumed.properties, { total: ((STEPS - 1) * STEPS) / 2, touched: Array.from({ length: STEPS }, (_, i) => i) }, "properties equal an uninterrupted run");
        assert.equal((await provider.tryLoad(instanceId, WORKFLOW_KEY)) ?? undefined, undefined);
      }
    },
  },
];
