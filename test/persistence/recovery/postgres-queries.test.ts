import type { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFoundry, createSmith, createWorkflow, isSuspended, waitForEvent, type Workflow } from "../../../src/index.js";
import { createRecoveryCoordinator, usePersistence } from "../../../src/persistence/index.js";
import { PostgresPersistenceProvider } from "../../../src/persistence/providers/postgres.js";
import { countingClient, freshTable, instancesWritten, totalWritten, writesNothing } from "../providers/postgres-cases.js";
import { freshPglite } from "../../support/pglite.js";

// PGlite's first start runs initdb in WebAssembly: one instance serves the file.
let db: PGlite | undefined;
beforeAll(async () => {
  db = await freshPglite();
}, 120_000);
afterAll(() => db?.close());

function tenSteps(): Workflow {
  let builder = createWorkflow("TenSteps").withVersion("1");
  for (let index = 0; index < 10; index++) builder = builder.addOperation({ name: `step-${index}`, forge: (input: number | undefined) => (input ?? 0) + 1 });
  return builder.build();
}

/**
 * Enqueues `count` ten-step instances, then resumes them with `concurrency: count` through a
 * provider whose statements are counted: one page claims them all, and none waits for a lane (a
 * claim that waited is read again before it starts, see movedSinceClaim).
 */
async function resumeCounted(count: number) {
  const tableName = freshTable();
  const setup = new PostgresPersistenceProvider({ client: db as PGlite, tableName });
  await setup.migrate();
  const workflow = tenSteps();
  const enqueuer = createRecoveryCoordinator({ provider: setup, resolveWorkflow: () => workflow });
  for (let index = 0; index < count; index++) await enqueuer.enqueue(workflow, { instanceId: `order-${index}` });
  const { client, calls } = countingClient(db as PGlite);
  const provider = new PostgresPersistenceProvider({ client, tableName });
  await provider.migrate();
  calls.length = 0;
  const report = await createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow, concurrency: count }).resumeAll();
  return { report, calls };
}

describe("what a recovered instance costs on Postgres", () => {
  it("ten checkpoints and the delete, the claims a page at a time: never a load, a list or a claim of its own", async () => {
    const { report, calls } = await resumeCounted(8);
    expect(report.resumed.map((item) => item.output)).toEqual(Array.from({ length: 8 }, () => 10));
    // One page of eight, and the empty one that ends the pass.
    const claims = calls.filter((call) => call.text.includes("SKIP LOCKED"));
    expect(claims).toHaveLength(2);
    // Every other statement saves or deletes instances: per instance ten checkpoints and the delete,
    // each alone or grouped with other runs' (group commit), so never more statements than writes.
    const writes = calls.filter((call) => !claims.includes(call));
    expect(writes.filter(writesNothing)).toEqual([]);
    expect(totalWritten(writes)).toEqual({ saves: 80, deletes: 8 });
    expect(writes.length).toBeLessThanOrEqual(88);
  });

  it("four runs at once send their checkpoints together, four to a statement", async () => {
    const { calls } = await resumeCounted(4);
    const saves = calls.filter((call) => instancesWritten(call).saves > 0);
    expect(totalWritten(saves).saves).toBe(40);
    // The four runs start together off one claim: the first run's first checkpoint goes alone, the
    // other three wait for it, and from then on each statement carries the four checkpoints the last
    // one's answer set off. The first run stays one checkpoint ahead, so the last statement carries
    // the other three's last.
    expect(saves.map((call) => instancesWritten(call).saves)).toEqual([1, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3]);
  });

  it("a claim lost to another worker costs one statement, not a read of the revision after it", async () => {
    const tableName = freshTable();
    const setup = new PostgresPersistenceProvider({ client: db as PGlite, tableName });
    await setup.migrate();
    const workflow = tenSteps();
    await createRecoveryCoordinator({ provider: setup, resolveWorkflow: () => workflow }).enqueue(workflow, { instanceId: "order-1" });
    const { client, calls } = countingClient(db as PGlite);
    const provider = new PostgresPersistenceProvider({ client, tableName });
    await provider.migrate();
    const stored = (await provider.tryLoad("order-1", workflow.id))!;
    await setup.save({ ...stored, revision: stored.revision + 1 });
    calls.length = 0;
    await expect(provider.save({ ...stored, revision: stored.revision + 1 })).rejects.toMatchObject({ code: "SNAPSHOT_CONFLICT" });
    expect(calls).toHaveLength(1);
  });
});

describe("what a woken instance costs on Postgres", () => {
  it("a signal is one statement, and the pass that finishes the instance claims it with one statement", async () => {
    const tableName = freshTable();
    const ran: string[] = [];
    const workflow = createWorkflow("Approval")
      .addOperation({ name: "reserve", forge: () => void ran.push("reserve") })
      .addOperation(waitForEvent("approval", "approved"))
      .addOperation({ name: "charge", forge: (approval: { by: string }) => void ran.push(`charge by ${approval.by}`) })
      .build();
    const { client, calls } = countingClient(db as PGlite);
    const provider = new PostgresPersistenceProvider({ client, tableName });
    await provider.migrate();
    const foundry = usePersistence(createFoundry("Approval"), provider, { instanceId: "expense-1" });
    expect(isSuspended(await createSmith().forge(workflow, foundry).catch((error: unknown) => error))).toBe(true);
    const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow });

    calls.length = 0;
    await coordinator.signal("expense-1", workflow.id, "approved", { by: "ann" });
    expect(calls.map((call) => call.text.trimStart().slice(0, 4))).toEqual(["WITH"]);

    calls.length = 0;
    const report = await coordinator.resumeAll();
    expect(report.resumed.map((item) => item.instanceId)).toEqual(["expense-1"]);
    expect(ran).toEqual(["reserve", "charge by ann"]);
    // The page that claims it and the empty one that ends the pass.
    const claims = calls.filter((call) => call.text.includes("SKIP LOCKED"));
    expect(claims.map((call) => call.result.rows.length)).toEqual([1, 0]);
  });
});
