import { describe, expect, it } from "vitest";
import { createFoundry, createSmith } from "../../src/index.js";
import { createRecoveryCoordinator, MemoryPersistenceProvider, PersistenceError, usePersistence, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { SqlitePersistenceProvider } from "../../src/persistence/providers/sqlite.js";
import { rejectionOf } from "../support/promises.js";
import { useSqliteFiles } from "../support/sqlite-files.js";
import { approvalWorkflow, approve, type ApprovalWorkflow } from "./helpers.js";

// The event arrives while the run's waiting save is on its way: the delivery finds the record still
// running and marks nothing. Then the run's re-read of the mailbox fails (the store, or the
// process, dies there). The save itself must have stored the record due: otherwise it waits, its
// event in the mailbox, for a second delivery or its timeout.

const sqlite = useSqliteFiles("delivered-while-saving");
const stores: [string, () => WorkflowPersistenceProvider][] = [
  ["memory", () => new MemoryPersistenceProvider()],
  ["SQLite", () => new SqlitePersistenceProvider({ database: sqlite.open() })],
];

/** `store` on which the approval is delivered just before the waiting save lands, and every mailbox read after it fails. */
function deliveredWhileSaving(store: WorkflowPersistenceProvider, workflow: ApprovalWorkflow, instanceId: string): WorkflowPersistenceProvider {
  let saved = false;
  return new Proxy(store, {
    get(target, key) {
      const value = Reflect.get(target, key, target) as unknown;
      if (key === "save") {
        return async (...args: Parameters<WorkflowPersistenceProvider["save"]>) => {
          if (args[0].status === "waiting" && !saved) {
            expect(await approve(target, workflow, instanceId)).toBe(true);
            saved = true;
          }
          return target.save(...args);
        };
      }
      if (key === "receive" && saved) return () => Promise.reject(new Error("the connection was lost"));
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe("an event delivered while the waiting save is in flight", () => {
  it.each(stores)("%s: continues the instance at the next pass though the run died before its re-read, with no second delivery", async (_name, open) => {
    const store = open();
    const ran: string[] = [];
    const workflow = approvalWorkflow(ran);
    const instanceId = "delivered-while-saving";
    const foundry = usePersistence(createFoundry("approval"), deliveredWhileSaving(store, workflow, instanceId), { instanceId });
    const error = await rejectionOf(createSmith().forge(workflow, foundry));
    expect(error).toBeInstanceOf(PersistenceError);
    expect(error).toMatchObject({ call: "receive" });
    expect((await store.tryLoad(instanceId, workflow.id))?.status).toBe("waiting");

    const coordinator = createRecoveryCoordinator({ provider: store, resolveWorkflow: () => workflow });
    const report = await coordinator.resumeAll();
    expect(report).toMatchObject({ resumed: [{ instanceId }], suspended: [], failed: [] });
    expect(ran).toEqual(["reserve", "charge ann"]);
    await coordinator.close();
  });
});
