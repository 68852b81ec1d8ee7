import { describe, expect, it } from "vitest";
import { action, createFoundry, createSmith, createWorkflow, isWorkflowForgeError, sleep } from "../../src/index.js";
import { cancelInstance, cancelledRecord } from "../../src/persistence/recovery/cancel.js";
import { fullSnapshot } from "../../src/persistence/testing/fixtures.js";
import type { WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";
import { MemoryPersistenceProvider, createRecoveryCoordinator, signalInstance, usePersistence, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { createTestClock, type TestClock } from "../../src/persistence/testing/index.js";
import { approvalWorkflow, approve, suspendAtApproval, withMethod, type ApprovalWorkflow } from "./helpers.js";

// `memory` seen through the list path: a provider that cannot claim in pages.
function listing(memory: MemoryPersistenceProvider): WorkflowPersistenceProvider {
  return new Proxy(memory, {
    get(target, key) {
      if (key === "capabilities") return { ...target.capabilities, claim: false };
      if (key === "claim") return undefined;
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const codeOf = (error: unknown): string | undefined => (isWorkflowForgeError(error) ? error.code : undefined);

/**
 * debit (restored by "credit back") → slow → notify, run as "t-1" by worker-1 under a 60 s lease
 * on a memory store (on `clock`, the system clock by default), resolved once it is inside "slow"; `finish()` lets "slow" complete, and `run`
 * settles with the run's outcome (its error, when it rejects).
 */
async function transferAtSlow(clock?: TestClock, ttlMs = 60_000) {
  const ran: string[] = [];
  let finish: () => void = () => undefined;
  const workflow = createWorkflow("transfer")
    .addOperation(action("debit", () => void ran.push("debit"), () => void ran.push("credit back")))
    .addOperation(action("slow", () => new Promise<void>((resolve) => (finish = resolve))))
    .addOperation(action("notify", () => void ran.push("notify")))
    .build();
  const memory = new MemoryPersistenceProvider();
  const foundry = usePersistence(createFoundry("transfer", clock === undefined ? {} : { clock }), memory, { instanceId: "t-1", owner: "worker-1", lease: { ttlMs } });
  let started: () => void = () => undefined;
  const atSlow = new Promise<void>((resolve) => (started = resolve));
  foundry.on("operationStarted", (event) => void (event.operationName === "slow" && started()));
  const run = createSmith()
    .forge(workflow, foundry)
    .catch((error: unknown) => error);
  await atSlow;
  return { ran, workflow, memory, finish: () => finish(), run };
}

describe("cancel", () => {
  it("ends a waiting instance cancelled: neither a plain forge nor a coordinator (claim or list path) runs it again, its event delivered", async () => {
    const ran: string[] = [];
    const workflow = approvalWorkflow(ran);
    const memory = new MemoryPersistenceProvider();
    await suspendAtApproval(memory, workflow, "expense-1");
    const coordinator = createRecoveryCoordinator({ provider: memory, resolveWorkflow: () => workflow });
    expect(await coordinator.cancel("expense-1", workflow.id)).toMatchObject({ result: "cancelled", status: "waiting" });
    expect(await approve(memory, workflow, "expense-1")).toBe(true);
    expect(await coordinator.resumeAll()).toMatchObject({ resumed: [], suspended: [], failed: [] });
    expect(await createRecoveryCoordinator({ provider: listing(memory), resolveWorkflow: () => workflow }).resumeAll()).toMatchObject({ resumed: [], suspended: [], failed: [] });
    const forged = await createSmith()
      .forge(workflow, usePersistence(createFoundry("approval"), memory, { instanceId: "expense-1" }))
      .catch((error: unknown) => error);
    expect(codeOf(forged)).toBe("WORKFLOW_CANCELLED");
    expect(ran).toEqual(["reserve"]);
    expect(memory.tryLoad("expense-1", workflow.id)).toMatchObject({ status: "cancelled" });
  });

  it("stops a running instance leased by another process at its next save, with WorkflowCancelledError and nothing restored", async () => {
    const { ran, workflow, memory, finish, run } = await transferAtSlow();
    const coordinator = createRecoveryCoordinator({ provider: memory, resolveWorkflow: () => workflow, owner: "worker-2" });
    expect(await coordinator.cancel("t-1", workflow.id)).toMatchObject({ result: "cancelled", status: "running" });
    finish();
    expect(codeOf(await run)).toBe("WORKFLOW_CANCELLED");
    expect(ran).toEqual(["debit"]);
    expect(memory.tryLoad("t-1", workflow.id)).toMatchObject({ status: "cancelled" });
  });

  it("with compensate, lets the stopped run's lease end, then restores each completed operation once and ends cancelled", async () => {
    // Leases are real time, whatever the clock: this one is short, and waited out. It must still
    // outlast a stall of the machine while the run renews it, or the pass below would restore beside it.
    const ttlMs = 1_000;
    const { ran, workflow, memory, finish, run } = await transferAtSlow(createTestClock(), ttlMs);
    const coordinator = createRecoveryCoordinator({ provider: memory, resolveWorkflow: () => workflow, owner: "worker-2", leaseTtlMs: 60_000 });
    expect(await coordinator.cancel("t-1", workflow.id, { compensate: true })).toMatchObject({ result: "compensating", status: "running" });
    // The lease of the run being stopped still holds: nothing is restored beside it.
    expect(await coordinator.resumeAll()).toMatchObject({ resumed: [], failed: [] });
    finish();
    expect(codeOf(await run)).toBe("WORKFLOW_CANCELLED");
    expect(ran).toEqual(["debit"]);
    await new Promise((resolve) => setTimeout(resolve, ttlMs + 50));
    const report = await coordinator.resumeAll();
    expect(report.resumed.length + report.failed.length + report.cancelled.length).toBe(1);
    expect(ran).toEqual(["debit", "credit back"]);
    expect(memory.tryLoad("t-1", workflow.id)).toMatchObject({ status: "cancelled" });
    expect(await coordinator.resumeAll()).toMatchObject({ resumed: [], failed: [] });
    expect(ran).toEqual(["debit", "credit back"]);
  });

  it("with compensate, of a waiting instance, restores its completed operations once and ends cancelled; its wake time wakes nothing", async () => {
    const ran: string[] = [];
    const workflow = createWorkflow("transfer")
      .addOperation(action("debit", () => void ran.push("debit"), () => void ran.push("credit back")))
      .addOperation(sleep("cool-off", 30 * 86_400_000))
      .addOperation(action("notify", () => void ran.push("notify")))
      .build();
    const memory = new MemoryPersistenceProvider();
    const clock = createTestClock();
    await createSmith()
      .forge(workflow, usePersistence(createFoundry("transfer", clock === undefined ? {} : { clock }), memory, { instanceId: "t-1" }))
      .catch(() => undefined);
    const coordinator = createRecoveryCoordinator({ provider: memory, clock, resolveWorkflow: () => workflow });
    expect(await coordinator.cancel("t-1", workflow.id, { compensate: true })).toMatchObject({ result: "compensating", status: "waiting" });
    await coordinator.resumeAll();
    expect(memory.tryLoad("t-1", workflow.id)).toMatchObject({ status: "cancelled" });
    clock.advance(30 * 86_400_000);
    await coordinator.resumeAll();
    expect(ran).toEqual(["debit", "credit back"]);
  });

  it("outlasts a run that saves between its load and its save, backing off, and says so when the run never pauses", async () => {
    for (const [label, racedLoads, expected] of [
      ["pauses after 25 saves", 25, "cancelled"],
      ["never pauses", Number.POSITIVE_INFINITY, "SNAPSHOT_CONFLICT"],
    ] as const) {
      const { provider, memory, keys, loads } = racedStore(racedLoads);
      const outcome = await cancelInstance(provider, keys).then(
        (done) => done.result,
        (error: unknown) => error,
      );
      if (expected === "cancelled") {
        expect(outcome, label).toBe("cancelled");
        expect(memory.tryLoad(keys.instanceId, keys.workflowKey), label).toMatchObject({ status: "cancelled" });
      } else {
        expect(codeOf(outcome), label).toBe("SNAPSHOT_CONFLICT");
        expect((outcome as Error).message, label).toMatch(/before each of 40 tries .* its run checkpoints faster than one load and one save of the store; nothing was cancelled, try again$/);
        expect(loads(), label).toBe(40);
        expect(memory.tryLoad(keys.instanceId, keys.workflowKey), label).toMatchObject({ status: "running" });
      }
    }
  });

  it("cancelInstance and signalInstance say the keys go in one object when given the coordinator's way, as two strings", () => {
    const provider = new MemoryPersistenceProvider();
    const cancelling = () => (cancelInstance as (...args: unknown[]) => unknown)(provider, "expense-7", "Expense");
    expect(cancelling).toThrow(new TypeError('cancelInstance(provider, instance, options): instance must be { instanceId, workflowKey }, got "expense-7"'));
    const signalling = () => (signalInstance as (...args: unknown[]) => unknown)(provider, "expense-7", "Expense", "approved");
    expect(signalling).toThrow(new TypeError('signalInstance(provider, instance, event, payload, options): instance must be { instanceId, workflowKey }, got "expense-7"'));
  });

  it("stops backing off at once when its signal aborts", async () => {
    const { provider, keys, loads } = racedStore(Number.POSITIVE_INFINITY);
    const controller = new AbortController();
    const cancelling = cancelInstance(provider, keys, { signal: controller.signal }).catch((error: unknown) => error);
    while (loads() < 3) await new Promise((resolve) => setImmediate(resolve));
    controller.abort(new Error("shutting down"));
    expect(codeOf(await cancelling)).toBe("ABORTED");
    expect(loads()).toBeLessThan(5);
  });
});

// A running instance leased by another process, on a store where that run saves again between each
// load a cancellation makes and its save (operations that take no time, on a store slower than the
// run), for the first `racedLoads` loads.
function racedStore(racedLoads: number) {
  const memory = new MemoryPersistenceProvider();
  const running = fullSnapshot({ status: "running", owner: "worker-9", leaseExpiresAt: new Date(Date.now() + 60_000).toISOString() });
  memory.save(running);
  let loads = 0;
  const provider = withMethod(memory, "tryLoad", (instanceId: string, workflowKey: string) => {
    const stored = memory.tryLoad(instanceId, workflowKey);
    if (stored !== undefined && ++loads <= racedLoads) memory.save({ ...stored, revision: stored.revision + 1 });
    return stored;
  });
  return { provider, memory, keys: { instanceId: running.foundryExecutionId, workflowKey: running.workflowId }, loads: () => loads };
}

describe("cancel of a dead letter", () => {
  it("of one that used up its attempts while being undone, finishes restoring and ends cancelled", async () => {
    const ran: string[] = [];
    const workflow = createWorkflow("transfer")
      .addOperation(action("debit", () => void ran.push("debit"), () => void ran.push("credit back")))
      .addOperation(action("reserve", () => void ran.push("reserve"), () => void ran.push("release")))
      .addOperation(sleep("cool-off", 30 * 86_400_000))
      .build();
    const memory = new MemoryPersistenceProvider();
    const clock = createTestClock();
    await createSmith()
      .forge(workflow, usePersistence(createFoundry("transfer", clock === undefined ? {} : { clock }), memory, { instanceId: "t-1" }))
      .catch(() => undefined);
    // Undoing it stopped after `reserve` was released, and the instance used up its attempts there.
    const waiting = memory.tryLoad("t-1", workflow.id) as WorkflowExecutionSnapshot;
    const undoing = cancelledRecord(waiting, true, new Date(clock.now()).toISOString());
    const deadLetter: Record<string, unknown> = { ...undoing, nextOperationIndex: 1, attempts: 3 };
    delete deadLetter.cancelledAt;
    memory.save(deadLetter as unknown as WorkflowExecutionSnapshot);
    const coordinator = createRecoveryCoordinator({ provider: memory, clock, resolveWorkflow: () => workflow, retry: { attempts: 3 } });
    await coordinator.resumeAll();
    expect(ran).toEqual(["debit", "reserve"]);
    expect(await coordinator.cancel("t-1", workflow.id)).toMatchObject({ result: "compensating", status: "compensating" });
    await coordinator.resumeAll();
    expect(ran).toEqual(["debit", "reserve", "credit back"]);
    expect(memory.tryLoad("t-1", workflow.id)).toMatchObject({ status: "cancelled" });
  });
});

describe("cancel while a run is suspending", () => {
  it("of an instance whose event landed in the same moment: the run rejects with WorkflowCancelledError, not as suspended", async () => {
    const ran: string[] = [];
    const workflow = approvalWorkflow(ran);
    const memory = new MemoryPersistenceProvider();
    const coordinator = createRecoveryCoordinator({ provider: memory, resolveWorkflow: () => workflow });
    let cancelled = false;
    // Right after the waiting save: the approval arrives and the instance is cancelled, before the run looks again.
    const provider = withMethod(memory, "save", async (snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal) => {
      memory.save(snapshot, signal);
      if (snapshot.status === "waiting" && !cancelled) {
        cancelled = true;
        await approve(memory, workflow, "expense-1");
        await coordinator.cancel("expense-1", workflow.id);
      }
    });
    await expectCancelledRun(workflow, provider, memory, ran);
  });

  it("rejects a run with WorkflowCancelledError when the cancellation landed as it reached its wait, refusing the waiting save", async () => {
    const ran: string[] = [];
    const workflow = approvalWorkflow(ran);
    const memory = new MemoryPersistenceProvider();
    const coordinator = createRecoveryCoordinator({ provider: memory, resolveWorkflow: () => workflow });
    // Just before the waiting save reaches the store, the instance is cancelled: the save is refused.
    const provider = withMethod(memory, "save", async (snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal) => {
      if (snapshot.status === "waiting") await coordinator.cancel("expense-1", workflow.id);
      memory.save(snapshot, signal);
    });
    await expectCancelledRun(workflow, provider, memory, ran);
  });
});

// Forges the approval workflow as "expense-1" through `provider` (a view of `memory`): the run must
// reject with WorkflowCancelledError, having run only its first step, and leave the record cancelled.
async function expectCancelledRun(workflow: ApprovalWorkflow, provider: WorkflowPersistenceProvider, memory: MemoryPersistenceProvider, ran: string[]): Promise<void> {
  const run = await createSmith()
    .forge(workflow, usePersistence(createFoundry("approval"), provider, { instanceId: "expense-1" }))
    .catch((error: unknown) => error);
  expect(codeOf(run)).toBe("WORKFLOW_CANCELLED");
  expect(ran).toEqual(["reserve"]);
  expect(memory.tryLoad("expense-1", workflow.id)).toMatchObject({ status: "cancelled" });
}
