import { afterEach, describe, expect, it } from "vitest";
import { action, createWorkflow } from "../../src/index.js";
import { MemoryPersistenceProvider, createRecoveryCoordinator, type RecoveryCoordinator } from "../../src/persistence/index.js";
import { approvalWorkflow, suspendAtApproval } from "./helpers.js";

// A started coordinator whose pass is running one slow instance keeps its other lanes at work:
// what is woken or falls due meanwhile runs at once, not after the slow instance ends. Each test
// holds the slow operation until the end, so on a coordinator that waited for it, the awaited
// step would never come (the test times out); an hour's poll rules the poll out.

function gate(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

const coordinators: RecoveryCoordinator[] = [];
const release: Array<() => void> = [];
afterEach(async () => {
  for (const open of release.splice(0)) open();
  for (const coordinator of coordinators.splice(0)) await coordinator.close();
});

/** A memory store with a slow instance enqueued, whose only step waits for the test's gate; `started` resolves as it starts. */
async function withSlowInstance(ran: string[]) {
  const provider = new MemoryPersistenceProvider();
  const [hold, started] = [gate(), gate()];
  release.push(hold.open);
  const slow = createWorkflow("slow")
    .addOperation(action("export", () => (started.open(), hold.opened)))
    .build();
  const approval = approvalWorkflow(ran);
  const workflows: Record<string, typeof slow> = { slow, approval };
  const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: (snapshot) => workflows[snapshot.workflowName], concurrency: 4 });
  coordinators.push(coordinator);
  await coordinator.enqueue(slow, { instanceId: "slow-1" });
  return { provider, approval, coordinator, slowStarted: started.opened };
}

describe("a started coordinator whose pass runs a slow instance", () => {
  it("resumes an instance signalled through it at once, with a lane the slow one does not use", async () => {
    const ran: string[] = [];
    const { provider, approval, coordinator, slowStarted } = await withSlowInstance(ran);
    await suspendAtApproval(provider, approval, "order-1");
    coordinator.start({ pollIntervalMs: 3_600_000 });
    await slowStarted;
    expect(await coordinator.signal("order-1", approval.id, "approved", "ann")).toMatchObject({ stored: true });
    await expect.poll(() => ran, { timeout: 15_000 }).toEqual(["reserve", "charge ann"]);
  });

  it("polls while the slow instance runs: an instance enqueued elsewhere meanwhile runs at the next poll", async () => {
    const ran: string[] = [];
    const { provider, approval, coordinator, slowStarted } = await withSlowInstance(ran);
    coordinator.start({ pollIntervalMs: 20 });
    await slowStarted;
    // Enqueued through another coordinator object: nothing wakes the started one but its poll.
    await createRecoveryCoordinator({ provider, resolveWorkflow: () => approval }).enqueue(approval, { instanceId: "order-2" });
    await expect.poll(() => ran, { timeout: 15_000 }).toEqual(["reserve"]);
  });
});
