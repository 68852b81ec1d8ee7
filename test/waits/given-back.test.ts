import { describe, expect, it } from "vitest";
import { createFoundry } from "../../src/index.js";
import { createRecoveryCoordinator } from "../../src/persistence/index.js";
import { approvedWhileWaiting, withClaim } from "./helpers.js";

// A delivery marks its waiting record due, and any save of the record clears the mark. An event
// wait has no wake time to be found by again, so a claimed record handed back unrun must stay
// claimable some other way, or it waits forever with its event in the mailbox.
describe("a claimed waiting record handed back unrun", () => {
  it("is resumed by the next pass, not one lease later, when the coordinator closed before starting it", async () => {
    const { ran, workflow, memory } = await approvedWhileWaiting("expense-1");
    let closed: Promise<void> | undefined;
    // close() lands between the claim and the start of the run: the claim is given back.
    const provider = withClaim(memory, async (...args) => {
      const page = await memory.claim(...args);
      closed ??= closing.close();
      return page;
    });
    // On real time, so that passes claim by page (a test clock lists).
    const closing = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow, concurrency: 1 });
    const first = await closing.resumeAll();
    await closed;
    expect(first.skipped).toMatchObject([{ instanceId: "expense-1", reason: "closed" }]);
    const next = await createRecoveryCoordinator({ provider: memory, resolveWorkflow: () => workflow }).resumeAll();
    expect(next.resumed).toMatchObject([{ instanceId: "expense-1" }]);
    expect(ran).toEqual(["reserve", "charge ann"]);
  });

  it("is resumed once its lease ended when making its foundry failed", async () => {
    const { ran, workflow, memory, clock } = await approvedWhileWaiting("expense-1");
    let failures = 1;
    const coordinator = createRecoveryCoordinator({
      provider: memory,
      clock,
      leaseTtlMs: 30_000,
      resolveWorkflow: () => workflow,
      createFoundry: (snapshot) => {
        if (failures-- > 0) throw new Error("the configuration service did not answer");
        return createFoundry(snapshot.workflowName, { clock });
      },
    });
    expect((await coordinator.resumeAll()).failed).toMatchObject([{ instanceId: "expense-1", attempts: 0 }]);
    clock.advance(30_000);
    expect((await coordinator.resumeAll()).resumed).toMatchObject([{ instanceId: "expense-1" }]);
    expect(ran).toEqual(["reserve", "charge ann"]);
  });
});
