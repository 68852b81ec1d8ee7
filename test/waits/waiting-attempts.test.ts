import { describe, expect, it } from "vitest";
import { MemoryPersistenceProvider, createRecoveryCoordinator } from "../../src/persistence/index.js";
import type { WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";
import { approvalWorkflow, approve, suspendAtApproval } from "./helpers.js";

// Waiting is not failing: a waiting record is never dead-lettered, whatever attempts it carries
// (for example a dead letter forged again by hand, which counts no attempt, that then reached a wait).
describe("a waiting instance whose record counts as many attempts as the coordinator allows", () => {
  it("continues when its event arrives instead of being dead-lettered", async () => {
    const ran: string[] = [];
    const workflow = approvalWorkflow(ran);
    const memory = new MemoryPersistenceProvider();
    await suspendAtApproval(memory, workflow, "expense-1");
    const waiting = memory.tryLoad("expense-1", workflow.id) as WorkflowExecutionSnapshot;
    memory.save({ ...waiting, revision: waiting.revision + 1, attempts: 3 });
    expect(await approve(memory, workflow, "expense-1")).toBe(true);
    const report = await createRecoveryCoordinator({ provider: memory, resolveWorkflow: () => workflow, retry: { attempts: 3 } }).resumeAll();
    expect(report).toMatchObject({ resumed: [{ instanceId: "expense-1" }], failed: [] });
    expect(ran).toEqual(["reserve", "charge ann"]);
  });
});
