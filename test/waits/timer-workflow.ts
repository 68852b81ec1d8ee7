import { appendFileSync } from "node:fs";
import { action, createWorkflow, sleep } from "../../src/index.js";

/**
 * The workflow of the timer tests: a sleep, then one step that appends
 * `<instanceId> <epoch ms it started> <pid>` to `logFile`, the moment the instance woke. The sleep's
 * length is never used: every instance is stored with its own wake time.
 */
export function timerWorkflow(logFile: string) {
  return createWorkflow("timer")
    .addOperation(sleep("nap", 3_600_000))
    .addOperation(action("woke", (_input: unknown, foundry) => void appendFileSync(logFile, `${foundry.executionId} ${Date.now()} ${process.pid}\n`)))
    .build();
}
