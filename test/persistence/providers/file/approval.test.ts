import { readdir } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { action, createFoundry, createSmith, createWorkflow, isSuspended, waitForEvent } from "../../../../src/index.js";
import type { SnapshotKeys } from "../../../../src/persistence/errors.js";
import { createRecoveryCoordinator, usePersistence, type WorkflowPersistenceProvider } from "../../../../src/persistence/index.js";
import type { FilePersistenceProvider } from "../../../../src/persistence/providers/file/index.js";
import type { WorkflowExecutionSnapshot } from "../../../../src/persistence/snapshot.js";
import { useFileStore } from "../../../support/file-store.js";
import { scaled } from "../../../support/thorough.js";

// An approval workflow on the file provider, whose coordinator finds waiting instances by listing
// them and reading each one's mailbox (no claim(), no push). The approval is sent at each moment
// that matters to a lost wake-up: before the run starts, after its first look at the mailbox, after
// its waiting save, after its second look, and after it suspended. Rounds: WORKFLOWFORGE_APPROVAL_ROUNDS.
const rounds = scaled("WORKFLOWFORGE_APPROVAL_ROUNDS", 10, 30);
const files = useFileStore("file-approval");

const moments = ["before the run", "after the first receive", "after the waiting save", "after the second receive", "after the run suspended"] as const;
type Moment = (typeof moments)[number];

function approvalWorkflow(ran: Map<string, string[]>) {
  const log = (instance: string, step: string): void => void ran.set(instance, [...(ran.get(instance) ?? []), step]);
  return createWorkflow("Expense")
    .withVersion("1")
    .addOperation(action("reserve", (_, foundry) => log(foundry.properties.instance as string, "reserve")))
    .addOperation(waitForEvent("approval", "approved"))
    .addOperation(action("charge", (approval: { by: string }, foundry) => log(foundry.properties.instance as string, `charge by ${approval.by}`)))
    .build();
}

/**
 * `inner`, calling `at(moment, instance)` (and waiting for it) once a run's call has reached that
 * moment: its first and second receive() of an instance, and its save of the instance as waiting.
 */
function observed(inner: FilePersistenceProvider, at: (moment: Moment, instance: string) => Promise<void>): WorkflowPersistenceProvider {
  const receives = new Map<string, number>();
  return {
    capabilities: inner.capabilities,
    save: async (snapshot: WorkflowExecutionSnapshot) => {
      await inner.save(snapshot);
      if (snapshot.status === "waiting") await at("after the waiting save", snapshot.foundryExecutionId);
    },
    tryLoad: (instance: string, workflow: string) => inner.tryLoad(instance, workflow),
    delete: (instance: string, workflow: string) => inner.delete(instance, workflow),
    list: (...args: Parameters<FilePersistenceProvider["list"]>) => inner.list(...args),
    deliver: (event) => inner.deliver(event),
    receive: async (keys: SnapshotKeys, name: string) => {
      const events = await inner.receive(keys, name);
      const count = (receives.get(keys.foundryExecutionId) ?? 0) + 1;
      receives.set(keys.foundryExecutionId, count);
      if (count <= 2) await at(count === 1 ? "after the first receive" : "after the second receive", keys.foundryExecutionId);
      return events;
    },
  };
}

describe("an approval workflow on FilePersistenceProvider", () => {
  it(`consumes every approval exactly once and completes every run, whenever the approval arrives (${rounds} rounds of ${moments.length} moments)`, { timeout: 120_000 }, async () => {
    const ran = new Map<string, string[]>();
    const expense = approvalWorkflow(ran);
    const plan = new Map(Array.from({ length: rounds * moments.length }, (_, index) => [`expense-${index}`, moments[index % moments.length] as Moment]));
    const inner = files.provider();
    const approve = (instance: string) => inner.deliver({ foundryExecutionId: instance, workflowId: expense.id, name: "approved", eventId: `mail-${instance}`, payload: { by: `ann-${instance}` }, sentAt: new Date().toISOString() });
    const sent = new Set<string>();
    const provider = observed(inner, async (moment, instance) => {
      if (plan.get(instance) !== moment || sent.has(instance)) return;
      sent.add(instance);
      expect(await approve(instance)).toBe(true);
    });
    const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => expense });
    const suspended: string[] = [];
    for (const [instance, moment] of plan) {
      if (moment === "before the run") expect(await approve(instance)).toBe(true);
      const foundry = usePersistence(createFoundry("Expense", { properties: { instance } }), provider, { instanceId: instance });
      await createSmith()
        .forge(expense, foundry)
        .catch((error: unknown) => (isSuspended(error) ? void suspended.push(instance) : Promise.reject(error as Error)));
      if (moment === "after the run suspended") expect(await approve(instance)).toBe(true);
      // A retried delivery while the run is unfinished is the same event.
      if (suspended.includes(instance)) expect(await approve(instance)).toBe(false);
    }
    // Only an approval sent after the second look finds the run suspended: the coordinator finds it in the mailbox.
    expect([...new Set(suspended.map((instance) => plan.get(instance)))].sort()).toEqual(["after the run suspended", "after the second receive"]);
    await coordinator.resumeAll();
    await coordinator.close();
    const wrong = [...plan].filter(([instance]) => JSON.stringify(ran.get(instance)) !== JSON.stringify(["reserve", `charge by ann-${instance}`]));
    expect(wrong.map(([instance, moment]) => `${instance} (${moment}): ${JSON.stringify(ran.get(instance))}`)).toEqual([]);
    // Every completed run's record was deleted, and its mailbox with it.
    expect(await readdir(files.directory)).toEqual([]);
  });
});
