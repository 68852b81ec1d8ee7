import { describe, expect, it } from "vitest";
import { action, createFoundry, createSmith, createWorkflow, isSuspended, waitForEvent } from "../../src/index.js";
import { MemoryPersistenceProvider, createRecoveryCoordinator, usePersistence } from "../../src/persistence/index.js";

describe("two waits for the same event", () => {
  it("consume one event each, in delivery order: one event never satisfies both", async () => {
    const got: unknown[] = [];
    const workflow = createWorkflow("two-approvals")
      .addOperation(waitForEvent("first", "approved"))
      .addOperation(action("record first", (by) => void got.push(by)))
      .addOperation(waitForEvent("second", "approved"))
      .addOperation(action("record second", (by) => void got.push(by)))
      .build();
    const provider = new MemoryPersistenceProvider();
    const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow });
    await coordinator.signal("doc-1", workflow.id, "approved", "ann", { eventId: "a" });
    const suspended = await createSmith()
      .forge(workflow, usePersistence(createFoundry("two-approvals"), provider, { instanceId: "doc-1" }))
      .catch((error: unknown) => error);
    expect(isSuspended(suspended)).toBe(true);
    expect(got).toEqual(["ann"]);
    expect(await coordinator.signal("doc-1", workflow.id, "approved", "ann again", { eventId: "a" })).toEqual({ eventId: "a", stored: false });
    expect(await coordinator.resumeAll()).toMatchObject({ resumed: [], suspended: [] });
    await coordinator.signal("doc-1", workflow.id, "approved", "bob", { eventId: "b" });
    expect((await coordinator.resumeAll()).resumed).toMatchObject([{ instanceId: "doc-1" }]);
    expect(got).toEqual(["ann", "bob"]);
  });
});
