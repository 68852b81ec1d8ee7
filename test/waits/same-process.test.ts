import { describe, expect, it } from "vitest";
import { createFoundry, createSmith, isSuspended } from "../../src/index.js";
import { MemoryPersistenceProvider, createRecoveryCoordinator, usePersistence } from "../../src/persistence/index.js";
import type { WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";
import { approvalWorkflow, approve } from "./helpers.js";

describe("a coordinator in the process of a run that is suspending", () => {
  it("and claims it between the waiting save and the run letting go, continues it once the run let go, not one lease later", async () => {
    const ran: string[] = [];
    const workflow = approvalWorkflow(ran);
    const memory = new MemoryPersistenceProvider();
    const coordinator = createRecoveryCoordinator({ provider: memory, resolveWorkflow: () => workflow, leaseTtlMs: 3_600_000 });
    let during: ReturnType<typeof coordinator.resumeAll> | undefined;
    // The approval arrives right after the waiting save, and this process's coordinator wakes at once.
    const provider = new Proxy(memory, {
      get(target, key) {
        if (key === "save") {
          return async (snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal) => {
            target.save(snapshot, signal);
            if (snapshot.status === "waiting" && during === undefined) {
              expect(await approve(target, workflow, "expense-1")).toBe(true);
              during = coordinator.resumeAll();
            }
          };
        }
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const run = await createSmith()
      .forge(workflow, usePersistence(createFoundry("approval"), provider, { instanceId: "expense-1" }))
      .catch((error: unknown) => error);
    expect(isSuspended(run)).toBe(true);
    expect((await during)?.resumed).toMatchObject([{ instanceId: "expense-1" }]);
    expect(ran).toEqual(["reserve", "charge ann"]);
  });
});
