import type { WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";

const minute = 60_000;
const day = 86_400_000;
const at = (msFromNow: number): string => new Date(Date.now() + msFromNow).toISOString();

/**
 * Durable waits, oldest first: an approval waiting for "approved" with a 6-day timeout, a sleep
 * due a minute ago (a coordinator has yet to look), a sleep due two hours ago that no worker
 * woke, a cancelled one, and a completed one. None has a lease: a run gives its claim back when it suspends.
 */
export function seedWaits(): WorkflowExecutionSnapshot[] {
  const record = (instance: string, updatedMsAgo: number, rest: Partial<WorkflowExecutionSnapshot>): WorkflowExecutionSnapshot => ({
    formatVersion: 1,
    foundryExecutionId: instance,
    workflowId: "expense-v1",
    workflowName: "Expense",
    workflowVersion: "1.0",
    definitionFingerprint: "fnv1a:0123456789abcdef",
    operationCount: 3,
    nextOperationIndex: 1,
    lastOutput: { reserved: 42.5 },
    properties: { expense: instance },
    status: "waiting",
    revision: 1,
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: at(-updatedMsAgo),
    ...rest,
  });
  return [
    record("expense-7", 9 * day, { status: "waiting", waitingFor: "approved", wakeAt: at(6 * day), consumedEvents: ["mail-1", "mail 2"] }),
    record("cool-4", 3 * day, { status: "waiting", wakeAt: at(-minute) }),
    record("cool-3", 2 * day, { status: "waiting", wakeAt: at(-2 * 60 * minute) }),
    // A minute past the day, so that `--older-than 1d` run in the same millisecond still finds it.
    record("gone-1", day + minute, { status: "cancelled", cancelledAt: at(-day) }),
    record("done-1", minute, { status: "completed", nextOperationIndex: 3 }),
  ];
}
