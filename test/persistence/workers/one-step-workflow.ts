import { appendFileSync } from "node:fs";
import { createWorkflow, type Workflow } from "../../../src/index.js";

/**
 * "Take" version 1: one operation that needs the `instance` property its enqueuer stored. Each
 * execution appends `R <instance> <owner> <property seen, or ->` to `logFile` synchronously before
 * anything else, and throws when the property is missing, as a workflow run without its input would.
 */
export function oneStepWorkflow({ logFile, owner }: { readonly logFile: string; readonly owner: string }): Workflow {
  return createWorkflow("Take")
    .withVersion("1")
    .addOperation({
      name: "take",
      forge: (_input: unknown, foundry) => {
        const seen = (foundry.properties as Record<string, unknown>).instance;
        appendFileSync(logFile, `R ${foundry.executionId} ${owner} ${typeof seen === "string" ? seen : "-"}\n`);
        if (typeof seen !== "string") throw new Error(`"${foundry.executionId}" has no instance property: it did not start from its enqueued record`);
        return seen;
      },
    })
    .build();
}
