import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkflow, type Workflow } from "../../../src/index.js";
import { createRecoveryCoordinator } from "../../../src/persistence/index.js";
import { PostgresPersistenceProvider } from "../../../src/persistence/providers/postgres.js";
import { countingClient, freshTable } from "../providers/postgres-cases.js";

// PGlite's first start runs initdb in WebAssembly: one instance serves the file.
let db: PGlite | undefined;
beforeAll(async () => {
  db = await PGlite.create();
}, 120_000);
afterAll(() => db?.close());

function tenSteps(): Workflow {
  let builder = createWorkflow("TenSteps").withVersion("1");
  for (let index = 0; index < 10; index++) builder = builder.addOperation({ name: `step-${index}`, forge: (input: number | undefined) => (input ?? 0) + 1 });
  return builder.build();
}

describe("what a recovered instance costs on Postgres", () => {
  it("one list, one claim, one statement per checkpoint and the delete: never a second load", async () => {
    const tableName = freshTable();
    const setup = new PostgresPersistenceProvider({ client: db as PGlite, tableName });
    await setup.migrate();
    const workflow = tenSteps();
    await createRecoveryCoordinator({ provider: setup, resolveWorkflow: () => workflow }).enqueue(workflow, { instanceId: "order-1" });

    const { client, calls } = countingClient(db as PGlite);
    const provider = new PostgresPersistenceProvider({ client, tableName });
    await provider.migrate();
    calls.length = 0;
    const report = await createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow }).resumeAll();

    expect(report.resumed.map((item) => item.output)).toEqual([10]);
    const statements = calls.map((call) => call.text.trimStart().split(/\s+/)[0]?.toUpperCase());
    // The list, the claim, ten checkpoints, the delete.
    expect(statements).toHaveLength(13);
    expect(statements.filter((verb) => verb === "SELECT")).toHaveLength(1);
    expect(statements.at(-1)).toBe("DELETE");
  });
});
