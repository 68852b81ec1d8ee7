import { describe, expect, it } from "vitest";
import { MemoryPersistenceProvider, PersistenceError, SnapshotCorruptedError, createRecoveryCoordinator, type FailedInstance } from "../../src/persistence/index.js";
import type { WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";
import { sleep } from "../support/promises.js";
import { approvalWorkflow, approve, withMethod } from "./helpers.js";

const noPause = { attempts: 3, baseDelayMs: 0, maxDelayMs: 0 };

// A suspension stores no attempt: the attempts spent reaching a wait are done with, so a long-lived
// instance is not dead-lettered by failures spread over its waits. Only failed wake-ups count.
describe("the attempts of a waiting instance", () => {
  it("are none once it suspended, whatever failed before its wait: it then has every attempt when woken", async () => {
    const ran: string[] = [];
    const workflow = approvalWorkflow(ran);
    const memory = new MemoryPersistenceProvider();
    const keys = { foundryExecutionId: "expense-1", workflowId: workflow.id };
    // The first two attempts die at their first checkpoint (the store is briefly unreachable): two attempts spent.
    let unreachable = 2;
    const flaky = withMethod(memory, "save", (snapshot: WorkflowExecutionSnapshot) => {
      if (snapshot.status === "running" && snapshot.nextOperationIndex === 1 && unreachable-- > 0) return Promise.reject(new PersistenceError({ source: "test", call: "save", keys, detail: "connection reset" }));
      return memory.save(snapshot);
    });
    const coordinator = createRecoveryCoordinator({ provider: flaky, resolveWorkflow: () => workflow, retry: noPause });
    await coordinator.enqueue(workflow, { instanceId: "expense-1" });

    expect(await coordinator.resumeAll()).toMatchObject({ suspended: [{ instanceId: "expense-1" }], failed: [] });
    expect(memory.tryLoad("expense-1", workflow.id)).toMatchObject({ status: "waiting", attempts: 0 });
    expect(await approve(memory, workflow, "expense-1")).toBe(true);
    expect(await coordinator.resumeAll()).toMatchObject({ resumed: [{ instanceId: "expense-1" }], failed: [] });
    expect(ran).toEqual(["reserve", "reserve", "reserve", "charge ann"]);
  });

  it("count its failed wake-ups: after retry.attempts of them it is a dead letter, not a record claimed again on every pass", async () => {
    const ran: string[] = [];
    const workflow = approvalWorkflow(ran);
    const memory = new MemoryPersistenceProvider();
    const coordinator = createRecoveryCoordinator({ provider: memory, resolveWorkflow: () => workflow, retry: noPause });
    await coordinator.enqueue(workflow, { instanceId: "expense-2" });
    expect(await coordinator.resumeAll()).toMatchObject({ suspended: [{ instanceId: "expense-2" }] });
    expect(await approve(memory, workflow, "expense-2")).toBe(true);

    // Its event cannot be read: every wake-up fails at the wait, before anything is written, and
    // is not retried within a pass (an unreadable record is no transient failure).
    const corrupt = new SnapshotCorruptedError({ foundryExecutionId: "expense-2", workflowId: workflow.id }, "the event's payload is not an encoded value");
    const broken = withMethod(memory, "receive", () => Promise.reject(corrupt));
    const failures: FailedInstance[] = [];
    // Passes until it is a dead letter, each once the lease the failed wake-up before it kept has run
    // out. A lease of a second, so that a pass on a busy machine ends well within its own.
    const worker = createRecoveryCoordinator({ provider: broken, resolveWorkflow: () => workflow, retry: noPause, leaseTtlMs: 1_000 });
    const leaseOver = () => Date.parse((memory.tryLoad("expense-2", workflow.id) as WorkflowExecutionSnapshot).leaseExpiresAt ?? "") < Date.now();
    for (let pass = 0; pass < 10 && !failures.some((failure) => failure.deadLettered); pass++) {
      failures.push(...(await worker.resumeAll()).failed);
      while (!leaseOver() && !failures.some((failure) => failure.deadLettered)) await sleep(5);
    }
    expect(failures.map(({ attempts, deadLettered }) => ({ attempts, deadLettered }))).toEqual([
      { attempts: 1, deadLettered: false },
      { attempts: 2, deadLettered: false },
      { attempts: 3, deadLettered: false },
      { attempts: 3, deadLettered: true },
    ]);
    const stored = memory.tryLoad("expense-2", workflow.id) as WorkflowExecutionSnapshot;
    expect(stored).toMatchObject({ status: "failed", attempts: 3 });
    expect(stored.leaseExpiresAt).toBeUndefined();
    // A dead letter is not claimed again.
    expect(await createRecoveryCoordinator({ provider: broken, resolveWorkflow: () => workflow, retry: noPause }).resumeAll()).toMatchObject({ resumed: [], failed: [] });
    expect(ran).toEqual(["reserve"]);
  });
});
