import { createFoundry } from "../../foundry.js";
import { usePersistence } from "../middleware.js";
import type { WorkflowPersistenceProvider } from "../provider.js";
import { appendCrashLog, finishedLine, startedLine, type CrashResult } from "./crash-log.js";

export interface CrashWorkloadOptions {
  readonly provider: WorkflowPersistenceProvider;
  readonly instanceId: string;
  /** The record {@link runCrashHarness} reads: a line per step started, and the completion (see crash-log.ts). */
  readonly logFile: string;
  /** @default 20 */
  readonly steps?: number | undefined;
  /** Work per step, so that kills land inside steps as well as between them. @default 2 */
  readonly stepDelayMs?: number | undefined;
}

/**
 * The child side: runs (or resumes) one instance of a workflow of `steps` steps through the real
 * middleware, logging for {@link runCrashHarness}. Call it from your child script with your
 * provider, then exit. It prints a line on stdout as the run starts, from which the harness
 * times its kill, and one once `forge()` resolved, from which it learns how long a run takes.
 */
export async function runCrashWorkload(options: CrashWorkloadOptions): Promise<CrashResult> {
  const { provider, instanceId, logFile, steps = 20, stepDelayMs = 2 } = options;
  const foundry = createFoundry("CrashWorkload", { properties: { sum: 0, visited: [] as number[] } });
  for (let i = 0; i < steps; i++) {
    foundry.withOperation(`step-${i}`, async (input: number | undefined, f) => {
      appendCrashLog(logFile, instanceId, i);
      await new Promise((resolve) => setTimeout(resolve, stepDelayMs));
      f.properties.sum += i;
      f.properties.visited = [...f.properties.visited, i];
      return (input ?? 0) + 1;
    });
  }
  // Completion is the deletion of the snapshot, after which a restart begins a new run. A kill
  // between the two lines leaves the harness to find out which happened.
  const logged: WorkflowPersistenceProvider = {
    // Only what it passes on: its compare-and-set, not methods (list, the mailbox) it has not.
    ...(provider.capabilities?.compareAndSet === true ? { capabilities: { compareAndSet: true } } : {}),
    save: (snapshot, signal) => provider.save(snapshot, signal),
    tryLoad: (instance, workflow, signal) => provider.tryLoad(instance, workflow, signal),
    delete: (instance, workflow, signal) => {
      appendCrashLog(logFile, instanceId, "completing", foundry.properties);
      return provider.delete(instance, workflow, signal);
    },
  };
  foundry.on("snapshotDeleted", () => appendCrashLog(logFile, instanceId, "completed", foundry.properties));
  usePersistence(foundry, logged, { instanceId, workflowKey: "CrashWorkload-v1" });
  process.stdout.write(`${startedLine}\n`);
  // After a kill past the last checkpoint no step computes the output: the engine restores it.
  const output = await foundry.forge<number>();
  process.stdout.write(`${finishedLine}\n`);
  appendCrashLog(logFile, instanceId, "output", output);
  return { output, properties: foundry.properties };
}
