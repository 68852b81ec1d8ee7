import { describe, expect, it } from "vitest";
import { action, createFoundry, createSmith, createWorkflow, isSuspended, waitForEvent } from "../../src/index.js";
import { MemoryPersistenceProvider, createRecoveryCoordinator, usePersistence } from "../../src/persistence/index.js";
import type { WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";

const event = (instance: string, workflowId: string, name: string) => ({ foundryExecutionId: instance, workflowId, name, eventId: `${name}-1`, payload: name, sentAt: new Date().toISOString() });

describe("a coordinator's run that takes its instance back after suspending (an event landed just after the waiting save)", () => {
  it("still counts its attempt in the store: a crash after it spends one of the instance's attempts", async () => {
    const seen: (number | undefined)[] = [];
    const workflow = createWorkflow("order")
      .addOperation(waitForEvent("paid", "paid"))
      .addOperation(waitForEvent("packed", "packed"))
      .addOperation(action("ship", () => void seen.push(memory.tryLoad("order-1", workflow.id)?.attempts)))
      .build();
    const memory = new MemoryPersistenceProvider();
    let sent = false;
    // `packed` is delivered right after the run's waiting save at its second wait, before it looks again.
    const provider = new Proxy(memory, {
      get(target, key) {
        if (key === "save") {
          return async (snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal) => {
            target.save(snapshot, signal);
            if (snapshot.status === "waiting" && snapshot.nextOperationIndex === 1 && !sent) {
              sent = true;
              await target.deliver(event("order-1", workflow.id, "packed"));
            }
          };
        }
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const suspended = await createSmith()
      .forge(workflow, usePersistence(createFoundry("order"), provider, { instanceId: "order-1" }))
      .catch((error: unknown) => error);
    expect(isSuspended(suspended)).toBe(true);
    await memory.deliver(event("order-1", workflow.id, "paid"));
    const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow });
    expect((await coordinator.resumeAll()).resumed).toMatchObject([{ instanceId: "order-1" }]);
    expect(sent).toBe(true);
    // What a worker that took over after a crash here would count: the claim that ran `ship`.
    expect(seen).toEqual([1]);
  });
});
