import { expect } from "vitest";
import { action, createFoundry, createSmith, createWorkflow, isSuspended, waitForEvent } from "../../src/index.js";
import { createRecoveryCoordinator, signalInstance, usePersistence, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";

// Approvals across two provider objects on one store (two connections, two pools, two clients):
// the run suspends through one, the approval is sent through the other.

const turns = async (count: number): Promise<void> => {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** 1,000 approvals, each sent before, during or after its run reaches the wait, through `sender`; `provider` runs them. */
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
    for (let batch = 0; batch < 20; batch++) {
      const ids = Array.from({ length: 50 }, (_, i) => `approval-${batch * 50 + i}`);
      await Promise.all(ids.map((id) => trial(id, timings[Math.floor(Math.random() * 3)]!)));
      // What suspended is due now (its event arrived): one pass resumes it.
      await coordinator.resumeAll();
    }
    expect(await provider.list!()).toEqual([]);
    expect(paid.size).toBe(1_000);
    for (const [id, events] of paid) expect(events, id).toEqual([{ id }]);
  } finally {
    await coordinator.close();
  }
}
