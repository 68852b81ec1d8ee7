// A process of the cancellation crash loop, on the store CHILD_STORE ("file", "sqlite", "postgres",
// "redis") at CHILD_URL. CHILD_MODE "run": resumes what is due until every instance is finished
// (cancelled), logging each step it starts to CHILD_LOG. CHILD_MODE "cancel": cancels the instances
// CHILD_INSTANCES (comma-separated), with compensate when CHILD_COMPENSATE is "1".
import { appendFileSync } from "node:fs";
import { setTimeout as pause } from "node:timers/promises";
import { action, createWorkflow, sleep } from "../../src/index.js";
import { createRecoveryCoordinator, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { FilePersistenceProvider } from "../../src/persistence/providers/file/index.js";
import { listSnapshots } from "../../src/persistence/recovery/list.js";
import { openStore, type StoreKind } from "../persistence/workers/stores.js";

const env = process.env;
const log = (entry: string) => appendFileSync(env.CHILD_LOG ?? "", `${entry}\n`);

/** reserve (restored by release) → work (a few ms) → a 30-day sleep → charge. */
export const cancelWorkflow = createWorkflow("cancel-loop")
  .addOperation(action("reserve", (_input: unknown, foundry) => log(`reserve ${foundry.executionId}`), (_input: unknown, foundry) => log(`release ${foundry.executionId}`)))
  .addOperation(
    action("work", async (_input: unknown, foundry) => {
      log(`work ${foundry.executionId}`);
      await pause(Math.random() * 20);
    }),
  )
  .addOperation(sleep("cool-off", 30 * 86_400_000))
  .addOperation(action("charge", (_input: unknown, foundry) => log(`charge ${foundry.executionId}`)))
  .build();

async function open(): Promise<{ provider: WorkflowPersistenceProvider; close: () => Promise<unknown> }> {
  if (env.CHILD_STORE === "file") return { provider: new FilePersistenceProvider({ directory: env.CHILD_URL ?? "" }), close: () => Promise.resolve() };
  return openStore(env.CHILD_STORE as StoreKind, env.CHILD_URL ?? "");
}

if (env.CHILD_MODE !== undefined) {
  const { provider, close } = await open();
  const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => cancelWorkflow, leaseTtlMs: 500, retry: { attempts: 1_000, baseDelayMs: 5, maxDelayMs: 50 } });
  if (env.CHILD_MODE === "cancel") {
    for (const instanceId of (env.CHILD_INSTANCES ?? "").split(",")) {
      const outcome = await coordinator.cancel(instanceId, cancelWorkflow.id, { compensate: env.CHILD_COMPENSATE === "1" });
      process.stdout.write(`${instanceId} ${outcome.result}\n`);
    }
  } else {
    for (;;) {
      await coordinator.resumeAll();
      const left = await listSnapshots(provider, { workflowName: cancelWorkflow.name, status: ["running", "failed", "compensating"] }, undefined);
      if (env.CHILD_UNTIL_DONE === "1" && left.length === 0) break;
      await pause(20);
    }
  }
  await coordinator.close();
  await close();
}
