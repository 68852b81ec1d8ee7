import { describe, expect, it } from "vitest";
import { createFoundry, createSmith, isSuspended } from "../../src/index.js";
import { createRecoveryCoordinator, MemoryPersistenceProvider, usePersistence } from "../../src/persistence/index.js";
import { approvalWorkflow, approve } from "./helpers.js";

describe("a completed instance kept and run again (onComplete keep, rerunCompleted)", () => {
  it("waits for a new event: the one its first run consumed is not consumed again", async () => {
    const ran: string[] = [];
    const workflow = approvalWorkflow(ran);
    const provider = new MemoryPersistenceProvider();
    const forge = () => createSmith().forge(workflow, usePersistence(createFoundry("approval"), provider, { instanceId: "expense-1", onComplete: "keep" }));
    expect(await approve(provider, workflow, "expense-1", "ann")).toBe(true);
    await forge();
    expect(provider.tryLoad("expense-1", workflow.id)).toMatchObject({ status: "completed", consumedEvents: ["approval-expense-1"] });
    const second = await forge().catch((error: unknown) => error);
    expect(isSuspended(second)).toBe(true);
    expect(ran).toEqual(["reserve", "charge ann", "reserve"]);
  });

  it("enqueued again through a coordinator, it waits for a new event too", async () => {
    const ran: string[] = [];
    const workflow = approvalWorkflow(ran);
    const provider = new MemoryPersistenceProvider();
    expect(await approve(provider, workflow, "expense-1", "ann")).toBe(true);
    await createSmith().forge(workflow, usePersistence(createFoundry("approval"), provider, { instanceId: "expense-1", onComplete: "keep" }));
    const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow, onComplete: "keep" });
    await coordinator.enqueue(workflow, { instanceId: "expense-1" });
    expect(provider.tryLoad("expense-1", workflow.id)).toMatchObject({ status: "running", nextOperationIndex: 0, consumedEvents: ["approval-expense-1"] });
    const report = await coordinator.resumeAll();
    await coordinator.close();
    expect(report.resumed).toEqual([]);
    expect(report.suspended.map((outcome) => outcome.instanceId)).toEqual(["expense-1"]);
    expect(ran).toEqual(["reserve", "charge ann", "reserve"]);
  });
});
