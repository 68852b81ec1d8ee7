import type { PGlite } from "@electric-sql/pglite";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { action, createFoundry, createSmith, createWorkflow, isSuspended, waitForEvent, type Workflow } from "../../../src/index.js";
import { createRecoveryCoordinator, usePersistence, type WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { PostgresPersistenceProvider } from "../../../src/persistence/providers/postgres.js";
import { SqlitePersistenceProvider } from "../../../src/persistence/providers/sqlite.js";
import { freshTable } from "./postgres-cases.js";
import { freshPglite } from "../../support/pglite.js";

// The SQL providers under the engine: an approval suspended at its wait, signalled, and woken by
// a coordinator's claim of the record the delivery marked due.
let db: PGlite | undefined;
beforeAll(async () => {
  db = await freshPglite();
}, 120_000);
afterAll(() => db?.close());

function approval(ran: string[]): Workflow {
  return createWorkflow("Expense")
    .addOperation(action("reserve", () => void ran.push("reserve")))
    .addOperation(waitForEvent("approval", "approved", { timeoutMs: 7 * 86_400_000 }))
    .addOperation(action("charge", (approved: { by: string }) => void ran.push(`charge by ${approved.by}`)))
    .build();
}

const stores: [string, () => WorkflowPersistenceProvider][] = [
  ["SQLite", () => new SqlitePersistenceProvider({ database: new Database(":memory:") })],
  ["PGlite", () => new PostgresPersistenceProvider({ client: db as PGlite, tableName: freshTable() })],
];

describe.each(stores)("an approval on %s", (_, create) => {
  it("suspends at the wait, and a signal makes the coordinator's next pass finish it once", async () => {
    const provider = create();
    const ran: string[] = [];
    const workflow = approval(ran);
    const foundry = usePersistence(createFoundry("Expense"), provider, { instanceId: "expense-1" });
    const suspended = await createSmith().forge(workflow, foundry).catch((error: unknown) => error);
    expect(isSuspended(suspended)).toBe(true);
    const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow });
    expect((await coordinator.resumeAll()).resumed).toEqual([]);
    expect(await coordinator.signal("expense-1", workflow.id, "approved", { by: "ann" }, { eventId: "mail-1" })).toMatchObject({ stored: true });
    expect(await coordinator.signal("expense-1", workflow.id, "approved", { by: "bob" }, { eventId: "mail-1" })).toMatchObject({ stored: false });
    const report = await coordinator.resumeAll();
    expect(report.resumed.map((item) => item.instanceId)).toEqual(["expense-1"]);
    expect(ran).toEqual(["reserve", "charge by ann"]);
    expect(await provider.receive!({ foundryExecutionId: "expense-1", workflowId: workflow.id }, "approved")).toEqual([]);
  });
});
