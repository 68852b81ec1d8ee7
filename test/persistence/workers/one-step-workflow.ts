import { appendFileSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { createWorkflow, type Workflow } from "../../../src/index.js";

/**
 * "Take" version 1: one operation that needs the `instance` property its enqueuer stored. Each
 * execution appends `R <instance> <owner> <property seen, or ->` to `logFile` synchronously before
 * anything else, and throws when the property is missing, as a workflow run without its input would.
 */
export function oneStepWorkflow({ logFile, owner, together = 1 }: { readonly logFile: string; readonly owner: string; readonly together?: number }): Workflow {
  return createWorkflow("Take")
    .withVersion("1")
    .addOperation({
      name: "take",
      forge: async (_input: unknown, foundry) => {
        const seen = (foundry.properties as Record<string, unknown>).instance;
        appendFileSync(logFile, `R ${foundry.executionId} ${owner} ${typeof seen === "string" ? seen : "-"}\n`);
        if (typeof seen !== "string") throw new Error(`"${foundry.executionId}" has no instance property: it did not start from its enqueued record`);
        // The work is shared however the machine schedules the workers: none completes an instance
        // before `together` of them have started one (a worker started first holds only its lanes).
        while (ownersIn(logFile) < together) await sleep(5);
        return seen;
      },
    })
    .build();
}

function ownersIn(logFile: string): number {
  return new Set(readFileSync(logFile, "utf8").split("\n").flatMap((line) => (line.startsWith("R ") ? [line.split(" ")[2]] : []))).size;
}
