import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { action, createFoundry, createSmith, createWorkflow, isSuspended, waitForEvent, WaitTimeoutError } from "../../src/index.js";
import { createRecoveryCoordinator, MemoryPersistenceProvider, signalInstance, usePersistence, type WorkflowExecutionSnapshot } from "../../src/persistence/index.js";
import { SqlitePersistenceProvider } from "../../src/persistence/providers/sqlite.js";
import { createTestClock } from "../../src/persistence/testing/index.js";

// waitForEvent's timeout decides by when the event was sent, not by when a worker next looked: a
// store that only polls, or a coordinator that was down, must not turn a late event into a success.
const hour = 3_600_000;

async function waitingForPayment(provider: MemoryPersistenceProvider | SqlitePersistenceProvider = new MemoryPersistenceProvider(), clock = createTestClock(Date.parse("2026-03-01T00:00:00Z"))) {
  const log: string[] = [];
  const workflow = createWorkflow("invoice")
    .addOperation(action("issue", () => void log.push("issue"), () => void log.push("void")))
    .addOperation(waitForEvent<{ by: string }>("payment", "paid", { timeoutMs: hour }))
    .addOperation(action("receipt", (paid: { by: string }) => void log.push(`receipt for ${paid.by}`)))
    .build();
  const coordinator = createRecoveryCoordinator({
    provider,
    clock,
    resolveWorkflow: () => workflow,
    createFoundry: (snapshot) => createFoundry("invoice", { executionId: snapshot.foundryExecutionId, clock }),
    retry: { attempts: 1 },
  });
  const foundry = usePersistence(createFoundry("invoice", { clock }), provider, { instanceId: "inv-1" });
  expect(isSuspended(await createSmith().forge(workflow, foundry).catch((error: unknown) => error))).toBe(true);
  return { clock, provider, log, workflow, coordinator };
}

describe("waitForEvent with timeoutMs", () => {
  it("times out when the event was sent after the timeout, though no worker looked between the two", async () => {
    const { clock, provider, log, workflow, coordinator } = await waitingForPayment();
    clock.advance(hour + 1);
    await coordinator.signal("inv-1", workflow.id, "paid", { by: "late" }, { eventId: "late" });
    const report = await coordinator.resumeAll();
    expect(report.failed.map((failed) => failed.error)).toEqual([expect.any(WaitTimeoutError)]);
    expect(log).toEqual(["issue", "void"]);
    expect(provider.tryLoad("inv-1", workflow.id)).toBeUndefined();
  });

  it("receives an event sent before the timeout, though the worker comes after it", async () => {
    const { clock, log, workflow, coordinator } = await waitingForPayment();
    clock.advance(hour - 1);
    await coordinator.signal("inv-1", workflow.id, "paid", { by: "ann" });
    clock.advance(2 * hour);
    const report = await coordinator.resumeAll();
    expect(report.failed).toEqual([]);
    expect(log).toEqual(["issue", "receipt for ann"]);
  });

  it("an event sent at the timeout itself is in time", async () => {
    const { clock, log, workflow, coordinator } = await waitingForPayment();
    clock.advance(hour);
    await coordinator.signal("inv-1", workflow.id, "paid", { by: "bob" });
    clock.advance(1);
    expect((await coordinator.resumeAll()).failed).toEqual([]);
    expect(log).toEqual(["issue", "receipt for bob"]);
  });

  it("receives an event whose sender's clock runs ahead, while the run's clock says the wait has not timed out", async () => {
    const { provider, log, workflow, coordinator } = await waitingForPayment();
    // Sent with the real clock, months after the run's test clock and its timeout.
    await signalInstance(provider, { instanceId: "inv-1", workflowKey: workflow.id }, "paid", { by: "cal" });
    expect((await coordinator.resumeAll()).failed).toEqual([]);
    expect(log).toEqual(["issue", "receipt for cal"]);
  });

  it("times out when the run's waiting save outlasted the timeout and the event was sent after it", async () => {
    const clock = createTestClock(Date.parse("2026-03-01T00:00:00Z"));
    // The save that suspends the run takes two hours; the event is sent in the meantime.
    class SlowStore extends MemoryPersistenceProvider {
      override save(snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal): void {
        if (snapshot.status === "waiting" && snapshot.revision === 2) {
          clock.advance(2 * hour);
          void this.deliver({ foundryExecutionId: "inv-1", workflowId: snapshot.workflowId, name: "paid", eventId: "late", payload: { by: "late" }, sentAt: new Date(clock.now()).toISOString() });
        }
        super.save(snapshot, signal);
      }
    }
    const { log, coordinator } = await waitingForPayment(new SlowStore(), clock);
    expect(log).toEqual(["issue"]);
    const report = await coordinator.resumeAll();
    expect(report.failed.map((failed) => failed.error)).toEqual([expect.any(WaitTimeoutError)]);
    expect(log).toEqual(["issue", "void"]);
  });
});

// A late event stored first must not hide an in-time one stored after it: what counts is when
// each was sent, not the order the mailbox holds them in.
const stores: [string, () => MemoryPersistenceProvider | SqlitePersistenceProvider][] = [
  ["memory", () => new MemoryPersistenceProvider()],
  ["SQLite", () => new SqlitePersistenceProvider({ database: new Database(":memory:") })],
];

describe.each(stores)("waitForEvent with timeoutMs on the %s provider, events stored out of order", (_name, open) => {
  const start = Date.parse("2026-03-01T00:00:00Z");
  const sent = (by: string, at: number) => ({ foundryExecutionId: "inv-1", name: "paid", eventId: by, payload: { by }, sentAt: new Date(at).toISOString() });

  it("after the timeout, receives the in-time event though a late one was stored before it", async () => {
    const { clock, provider, log, workflow, coordinator } = await waitingForPayment(open(), createTestClock(start));
    await provider.deliver({ ...sent("late", start + hour + 60_000), workflowId: workflow.id });
    await provider.deliver({ ...sent("ann", start + hour - 60_000), workflowId: workflow.id });
    clock.advance(2 * hour);
    expect((await coordinator.resumeAll()).failed).toEqual([]);
    expect(log).toEqual(["issue", "receipt for ann"]);
  });

  it("before the timeout, receives the oldest stored event, whenever it says it was sent", async () => {
    const { clock, provider, log, workflow, coordinator } = await waitingForPayment(open(), createTestClock(start));
    await provider.deliver({ ...sent("ahead", start + hour + 60_000), workflowId: workflow.id });
    await provider.deliver({ ...sent("ann", start + 60_000), workflowId: workflow.id });
    clock.advance(hour / 2);
    expect((await coordinator.resumeAll()).failed).toEqual([]);
    expect(log).toEqual(["issue", "receipt for ahead"]);
  });

  it("a run whose waiting save outlasted the timeout receives the in-time event stored after a late one, in the same process", async () => {
    const clock = createTestClock(start);
    const store = open();
    const save = store.save.bind(store);
    // The save that suspends the run takes two hours; both events are delivered meanwhile, late first.
    store.save = async (snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal) => {
      if (snapshot.status === "waiting" && snapshot.revision === 2) {
        clock.advance(2 * hour);
        await store.deliver({ ...sent("late", start + hour + 60_000), workflowId: snapshot.workflowId });
        await store.deliver({ ...sent("ann", start + hour - 60_000), workflowId: snapshot.workflowId });
      }
      return save(snapshot, signal);
    };
    const log: string[] = [];
    const workflow = createWorkflow("invoice")
      .addOperation(action("issue", () => void log.push("issue")))
      .addOperation(waitForEvent<{ by: string }>("payment", "paid", { timeoutMs: hour }))
      .addOperation(action("receipt", (paid: { by: string }) => void log.push(`receipt for ${paid.by}`)))
      .build();
    await createSmith().forge(workflow, usePersistence(createFoundry("invoice", { clock }), store, { instanceId: "inv-1" }));
    expect(log).toEqual(["issue", "receipt for ann"]);
  });
});
