import { expect } from "vitest";
import { action, createFoundry, createSmith, createWorkflow, isSuspended, waitForEvent } from "../../src/index.js";
import { MemoryPersistenceProvider, usePersistence, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { createTestClock, type TestClock } from "../../src/persistence/testing/index.js";

/** reserve → wait for `approved` → charge, logging each step it runs into `ran`. */
export function approvalWorkflow(ran: string[]) {
  return createWorkflow("approval")
    .addOperation(action("reserve", () => void ran.push("reserve")))
    .addOperation(waitForEvent("approval", "approved"))
    .addOperation(action("charge", (by: string) => void ran.push(`charge ${by}`)))
    .build();
}

export type ApprovalWorkflow = ReturnType<typeof approvalWorkflow>;

/** Runs `workflow` as `instanceId` until it suspends at its wait (it must). */
export async function suspendAtApproval(provider: WorkflowPersistenceProvider, workflow: ApprovalWorkflow, instanceId: string, clock: TestClock = createTestClock()): Promise<void> {
  const foundry = usePersistence(createFoundry("approval", { clock }), provider, { instanceId });
  const error = await createSmith()
    .forge(workflow, foundry)
    .catch((caught: unknown) => caught);
  expect(isSuspended(error)).toBe(true);
}

/** Delivers `approved` (paid by `by`) to `instanceId`. */
export function approve(provider: WorkflowPersistenceProvider, workflow: ApprovalWorkflow, instanceId: string, by = "ann"): Promise<boolean> {
  if (provider.deliver === undefined) throw new TypeError("the provider has no mailbox");
  return provider.deliver({ foundryExecutionId: instanceId, workflowId: workflow.id, name: "approved", eventId: `approval-${instanceId}`, payload: by, sentAt: new Date().toISOString() });
}

/**
 * An approval instance on a memory store that suspended at its wait (on a test clock) and has been
 * approved since: a waiting record marked due, its event unconsumed in the mailbox.
 */
export async function approvedWhileWaiting(instanceId: string): Promise<{ ran: string[]; workflow: ApprovalWorkflow; memory: MemoryPersistenceProvider; clock: TestClock }> {
  const ran: string[] = [];
  const workflow = approvalWorkflow(ran);
  const memory = new MemoryPersistenceProvider();
  const clock = createTestClock();
  await suspendAtApproval(memory, workflow, instanceId, clock);
  expect(await approve(memory, workflow, instanceId)).toBe(true);
  return { ran, workflow, memory, clock };
}

/** `memory` with `claim` replaced: every other member is the provider's own, bound to it. */
export function withClaim(memory: MemoryPersistenceProvider, claim: MemoryPersistenceProvider["claim"]): MemoryPersistenceProvider {
  return withMethod(memory, "claim", claim);
}

/** `memory` with its method `name` replaced by `replacement`: every other member is the provider's own, bound to it. */
export function withMethod<K extends "save" | "tryLoad" | "claim" | "receive">(memory: MemoryPersistenceProvider, name: K, replacement: (...args: never[]) => unknown): MemoryPersistenceProvider {
  return new Proxy(memory, {
    get(target, key) {
      if (key === name) return replacement;
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
