import { expect, it } from "vitest";
import { action, createFoundry, createWorkflow, sleep } from "../../src/index.js";
import { createRecoveryCoordinator, type WorkflowCompensatedError, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { createTestClock, type TestClock } from "../../src/persistence/testing/index.js";
import { deferred, type Deferred } from "../support/promises.js";

// Acceptance 6 of issue 16, on one store: cancelling a waiting, a running and a compensating
// instance does what cancelInstance (src/persistence/recovery/cancel.ts) documents.
const day = 86_400_000;

/** What the steps of one instance did, in order. */
type Log = string[];

interface Gates {
  /** Resolved by the test: the step "work" (or the restore of "reserve") may end. */
  work?: Deferred;
  restore?: Deferred;
  /** Resolved when "work" (or the restore) started. */
  workStarted: Deferred;
  restoreStarted: Deferred;
}

function order(log: Log, gates: Gates, failAtCharge = false) {
  return createWorkflow("order")
    .addOperation(
      action(
        "reserve",
        () => void log.push("reserve"),
        async () => {
          log.push("release");
          gates.restoreStarted.resolve();
          await gates.restore?.promise;
        },
      ),
    )
    .addOperation(
      action("work", async () => {
        log.push("work");
        gates.workStarted.resolve();
        await gates.work?.promise;
      }),
    )
    .addOperation(sleep("cool-off", 30 * day))
    .addOperation(
      action("charge", () => {
        log.push("charge");
        if (failAtCharge) throw new Error("card declined");
      }),
    )
    .build();
}

function setup(provider: WorkflowPersistenceProvider, options: { failAtCharge?: boolean } = {}) {
  const clock: TestClock = createTestClock(Date.parse("2026-05-01T00:00:00Z"));
  const log: Log = [];
  const gates: Gates = { workStarted: deferred(), restoreStarted: deferred() };
  const workflow = order(log, gates, options.failAtCharge);
  const coordinator = createRecoveryCoordinator({
    provider,
    clock,
    leaseTtlMs: 60_000,
    resolveWorkflow: () => workflow,
    createFoundry: (snapshot) => createFoundry("order", { executionId: snapshot.foundryExecutionId, clock }),
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
  });
  const instanceId = `order-${Math.random().toString(36).slice(2)}`;
  const load = () => provider.tryLoad(instanceId, workflow.id);
  return { clock, log, gates, workflow, coordinator, instanceId, load };
}

type Setup = ReturnType<typeof setup>;

/** Runs the instance until it suspends at "cool-off". */
async function waiting(s: Setup): Promise<void> {
  await s.coordinator.enqueue(s.workflow, { instanceId: s.instanceId });
  const report = await s.coordinator.resumeAll();
  expect(report.suspended.map((outcome) => outcome.instanceId)).toEqual([s.instanceId]);
}

/** Registers the cancellation cases for the provider `create` returns (a fresh one, or one on a shared store). */
export function cancellationCases(create: () => WorkflowPersistenceProvider | Promise<WorkflowPersistenceProvider>): void {
  it("a waiting instance is stored cancelled and never wakes, its completed steps untouched", async () => {
    const s = setup(await create());
    await waiting(s);
    await expect(s.coordinator.cancel(s.instanceId, s.workflow.id)).resolves.toMatchObject({ result: "cancelled", status: "waiting" });
    s.clock.advance(31 * day);
    const report = await s.coordinator.resumeAll();
    expect(report.resumed).toEqual([]);
    expect(s.log).toEqual(["reserve", "work"]);
    const stored = await s.load();
    expect(stored).toMatchObject({ status: "cancelled", cancelledAt: "2026-05-01T00:00:00.000Z" });
    expect(stored?.wakeAt).toBeUndefined();
    await expect(s.coordinator.cancel(s.instanceId, s.workflow.id)).resolves.toMatchObject({ result: "finished", status: "cancelled" });
  });

  it("a waiting instance cancelled with compensate has its completed steps restored by a coordinator, then ends cancelled", async () => {
    const s = setup(await create());
    await waiting(s);
    await expect(s.coordinator.cancel(s.instanceId, s.workflow.id, { compensate: true })).resolves.toMatchObject({ result: "compensating", status: "waiting" });
    expect(await s.load()).toMatchObject({ status: "compensating" });
    const report = await s.coordinator.resumeAll();
    expect(report.cancelled.map((outcome) => outcome.instanceId)).toEqual([s.instanceId]);
    expect(s.log).toEqual(["reserve", "work", "release"]);
    expect(await s.load()).toMatchObject({ status: "cancelled" });
    s.clock.advance(31 * day);
    expect((await s.coordinator.resumeAll()).resumed).toEqual([]);
    expect(s.log).toEqual(["reserve", "work", "release"]);
  });

  it("a running instance is stopped at its next checkpoint with WorkflowCancelledError, and nothing after it runs", async () => {
    const s = setup(await create());
    s.gates.work = deferred();
    await s.coordinator.enqueue(s.workflow, { instanceId: s.instanceId });
    const running = s.coordinator.resumeAll();
    await s.gates.workStarted.promise;
    await expect(s.coordinator.cancel(s.instanceId, s.workflow.id)).resolves.toMatchObject({ result: "cancelled", status: "running" });
    s.gates.work.resolve();
    const report = await running;
    const outcomes = [...report.resumed, ...report.suspended, ...report.failed, ...report.cancelled];
    expect(outcomes.map((outcome) => outcome.status)).toEqual(["cancelled"]);
    s.clock.advance(31 * day);
    expect((await s.coordinator.resumeAll()).resumed).toEqual([]);
    expect(s.log).toEqual(["reserve", "work"]);
    expect(await s.load()).toMatchObject({ status: "cancelled" });
  });

  it("a running instance cancelled with compensate stops, then a coordinator restores its completed steps and stores it cancelled", async () => {
    const s = setup(await create());
    s.gates.work = deferred();
    await s.coordinator.enqueue(s.workflow, { instanceId: s.instanceId });
    const running = s.coordinator.resumeAll();
    await s.gates.workStarted.promise;
    await expect(s.coordinator.cancel(s.instanceId, s.workflow.id, { compensate: true })).resolves.toMatchObject({ result: "compensating", status: "running" });
    s.gates.work.resolve();
    const stopped = await running;
    expect(stopped.resumed).toEqual([]);
    expect(s.log).not.toContain("charge");
    // The compensation starts once the stopped run's lease has ended: at once when this coordinator
    // held it (it retries in the same pass), else after the lease.
    s.clock.advance(61_000);
    const later = await s.coordinator.resumeAll();
    expect([...stopped.cancelled, ...later.cancelled].map((outcome) => outcome.instanceId)).toEqual([s.instanceId]);
    expect(s.log.filter((entry) => entry === "release")).toEqual(["release"]);
    expect(s.log).not.toContain("charge");
    expect(await s.load()).toMatchObject({ status: "cancelled" });
  });

  it("a compensating instance finishes restoring and then ends cancelled, its restore run to the end", async () => {
    const s = setup(await create(), { failAtCharge: true });
    await waiting(s);
    s.clock.advance(31 * day);
    s.gates.restore = deferred();
    const compensating = s.coordinator.resumeAll();
    await s.gates.restoreStarted.promise;
    expect(await s.load()).toMatchObject({ status: "compensating" });
    await expect(s.coordinator.cancel(s.instanceId, s.workflow.id)).resolves.toMatchObject({ result: "compensating", status: "compensating" });
    s.gates.restore.resolve();
    const first = await compensating;
    s.clock.advance(61_000);
    const second = await s.coordinator.resumeAll();
    // The cancellation's write made the restoring run's checkpoint a conflict: it stopped there, and
    // the next claim (once its lease ended) restored again (restores are at least once) and stored it cancelled.
    expect(first.skipped.map((outcome) => outcome.reason)).toEqual(["claimed"]);
    // That run reports the failure it compensated for, not the cancellation.
    expect(second.failed.map(({ error }) => [(error as WorkflowCompensatedError).code, (error as WorkflowCompensatedError).storedError?.message])).toEqual([["WORKFLOW_COMPENSATED", "card declined"]]);
    expect(s.log).toEqual(["reserve", "work", "charge", "release", "release"]);
    expect(await s.load()).toMatchObject({ status: "cancelled", cancelledAt: "2026-06-01T00:00:00.000Z" });
  });
}
