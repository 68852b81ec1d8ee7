import { expect } from "vitest";
import { action, createFoundry, createSmith, createWorkflow, isSuspended, waitForEvent } from "../../src/index.js";
import { createRecoveryCoordinator, signalInstance, usePersistence, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import type { ClaimRequest } from "../../src/persistence/provider.js";
import { scaled } from "./thorough.js";

// Approvals across two provider objects on one store (two connections, two pools, two clients):
// the run suspends through one, the approval is sent through the other.

const turns = async (count: number): Promise<void> => {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** Approvals in batches of 50: 300 in a local npm test, 1,000 in .ci/run (WORKFLOWFORGE_APPROVAL_BATCHES for more). */
const batches = scaled("WORKFLOWFORGE_APPROVAL_BATCHES", 6, 20);
export const approvals = batches * 50;

/** {@link approvals} approvals, each sent before, during or after its run reaches the wait, through `sender`; `provider` runs them. */
export async function approvalTrials(provider: WorkflowPersistenceProvider, sender: WorkflowPersistenceProvider): Promise<void> {
  const paid = new Map<string, unknown[]>();
  const approval = createWorkflow("Approval")
    .addOperation(action("reserve", () => undefined))
    .addOperation(waitForEvent<{ id: string }>("approval", "approved"))
    .addOperation(action("charge", (event: { id: string }) => void paid.set(event.id, [...(paid.get(event.id) ?? []), event])))
    .build();
  const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => approval });
  const timings = ["before", "during", "after"] as const;
  const trial = async (id: string, when: (typeof timings)[number]): Promise<void> => {
    const send = () => signalInstance(sender, { instanceId: id, workflowKey: "Approval" }, "approved", { id }, { eventId: `mail-${id}` });
    const forge = () =>
      createSmith()
        .forge(approval, usePersistence(createFoundry("Approval"), provider, { instanceId: id }))
        .catch((error: unknown) => {
          if (!isSuspended(error)) throw error;
        });
    if (when === "before") await send().then(forge);
    else if (when === "after") await forge().then(send);
    else await Promise.all([forge(), turns(Math.floor(Math.random() * 12)).then(send)]);
  };
  try {
    for (let batch = 0; batch < batches; batch++) {
      const ids = Array.from({ length: 50 }, (_, i) => `approval-${batch * 50 + i}`);
      await Promise.all(ids.map((id) => trial(id, timings[Math.floor(Math.random() * 3)]!)));
      // What suspended is due now (its event arrived): one pass resumes it.
      await coordinator.resumeAll();
    }
    expect(await provider.list!()).toEqual([]);
    expect(paid.size).toBe(approvals);
    for (const [id, events] of paid) expect(events, id).toEqual([{ id }]);
  } finally {
    await coordinator.close();
  }
}

/** The three provider objects of {@link pushedApproval}, each on its own connection, and how to see the push listening. */
export interface PushedApprovalStores {
  /** The started coordinator's store. */
  readonly coordinator: WorkflowPersistenceProvider;
  /** Where the run suspends. */
  readonly runner: WorkflowPersistenceProvider;
  /** Where the approval is sent from. */
  readonly sender: WorkflowPersistenceProvider;
  /** How many subscribers the store's push channel has now. */
  listeners(): Promise<number>;
}

/**
 * A started coordinator (polling every 10 minutes) resumes a suspended approval once `sender`
 * signals it: the signal is sent after the coordinator's first pass ended, so only the push can
 * wake it within the test's time. `"subscribed"`: the signal goes once the subscription is seen.
 * `"before-subscribed"`: the coordinator's subscribe() is held until the signal was sent, which no
 * one hears; the subscription taking effect is what must wake it.
 */
export async function pushedApproval(stores: PushedApprovalStores, when: "subscribed" | "before-subscribed" = "subscribed"): Promise<void> {
  const ran: string[] = [];
  let finished!: (output: string) => void;
  const done = new Promise<string>((resolve) => (finished = resolve));
  const expense = createWorkflow("Expense")
    .addOperation(action("reserve", () => void ran.push("reserve")))
    .addOperation(waitForEvent<{ by: string }>("approval", "approved", { timeoutMs: 7 * 86_400_000 }))
    .addOperation(action("pay-out", (approval: { by: string }) => (ran.push("pay-out"), finished(`paid, approved by ${approval.by}`), "paid")))
    .build();
  let firstPass!: () => void;
  const firstPassEnded = new Promise<void>((resolve) => (firstPass = resolve));
  let signalled!: () => void;
  const signalSent = new Promise<void>((resolve) => (signalled = resolve));
  const watched = new Proxy(stores.coordinator, {
    get(target, property) {
      if (property === "claim") return (request: ClaimRequest) => target.claim?.(request).finally(() => firstPass());
      if (property === "subscribe" && when === "before-subscribed") return (listener: () => void) => signalSent.then(() => target.subscribe?.(listener));
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const coordinator = createRecoveryCoordinator({ provider: watched, resolveWorkflow: () => expense });
  try {
    coordinator.start({ pollIntervalMs: 600_000 });
    await firstPassEnded;
    if (when === "subscribed") await expect.poll(() => stores.listeners()).toBe(1);

    const foundry = usePersistence(createFoundry("Expense"), stores.runner, { instanceId: "expense-7" });
    expect(isSuspended(await createSmith().forge(expense, foundry).catch((error: unknown) => error))).toBe(true);
    expect(await stores.runner.tryLoad("expense-7", "Expense")).toMatchObject({ status: "waiting", waitingFor: "approved" });

    expect(await signalInstance(stores.sender, { instanceId: "expense-7", workflowKey: "Expense" }, "approved", { by: "ann" }, { eventId: "mail-1" })).toMatchObject({ stored: true });
    if (when === "before-subscribed") expect(await stores.listeners()).toBe(0);
    signalled();
    expect(await done).toBe("paid, approved by ann");
    expect(ran).toEqual(["reserve", "pay-out"]);
  } finally {
    await coordinator.close();
  }
}
