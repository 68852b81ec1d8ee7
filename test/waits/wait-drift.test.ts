import { describe, expect, it } from "vitest";
import { action, createFoundry, createSmith, createWorkflow, isSuspended, sleep, waitForEvent, type WorkflowSuspendedError } from "../../src/index.js";
import { MemoryPersistenceProvider, usePersistence } from "../../src/persistence/index.js";
import { createTestClock } from "../../src/persistence/testing/index.js";

const day = 86_400_000;

// The definition fingerprint counts operation names only: a wait changed in place keeps it, so the
// stored wait fields are those of the old wait. A wait reuses them only when they are its own.
describe("a wait changed in place while an instance waits at it", () => {
  const hour = 3_600_000;
  const setup = () => {
    const provider = new MemoryPersistenceProvider();
    const clock = createTestClock(Date.parse("2026-01-01T00:00:00Z"));
    const ran: string[] = [];
    const build = (wait: ReturnType<typeof waitForEvent>) => createWorkflow("onboarding").addOperation(wait).addOperation(action("welcome", () => void ran.push("welcome"))).build();
    const forge = (workflow: ReturnType<typeof build>) =>
      createSmith()
        .forge(workflow, usePersistence(createFoundry("onboarding", { clock }), provider, { instanceId: "user-1" }))
        .catch((error: unknown) => error);
    return { clock, build, forge };
  };

  it("an event wait that lost its timeout keeps waiting, rather than timing out at the old wake time", async () => {
    const { clock, build, forge } = setup();
    expect(isSuspended(await forge(build(waitForEvent("hold", "approved", { timeoutMs: hour }))))).toBe(true);
    clock.advance(2 * hour);
    const suspended = (await forge(build(waitForEvent("hold", "approved")))) as WorkflowSuspendedError;
    expect(isSuspended(suspended)).toBe(true);
    expect({ wakeAt: suspended.wakeAt, waitingFor: suspended.waitingFor }).toEqual({ wakeAt: undefined, waitingFor: "approved" });
  });

  it("an event wait that gained a timeout times out once it passed, counted from when the new definition reached it", async () => {
    const { clock, build, forge } = setup();
    expect(isSuspended(await forge(build(waitForEvent("hold", "approved"))))).toBe(true);
    const timed = build(waitForEvent("hold", "approved", { timeoutMs: hour }));
    const suspended = (await forge(timed)) as WorkflowSuspendedError;
    expect(suspended.wakeAt?.toISOString()).toBe("2026-01-01T01:00:00.000Z");
    clock.advance(hour);
    expect(await forge(timed)).toMatchObject({ name: "WaitTimeoutError", message: expect.stringContaining("within 3600000 ms") });
  });

  it("an event wait become a sleep sleeps from when the new definition reached it, instead of waiting for the old event forever", async () => {
    const provider = new MemoryPersistenceProvider();
    const clock = createTestClock(Date.parse("2026-01-01T00:00:00Z"));
    const ran: string[] = [];
    const build = (wait: ReturnType<typeof sleep> | ReturnType<typeof waitForEvent>) =>
      createWorkflow("onboarding")
        .addOperation(wait)
        .addOperation(action("welcome", () => void ran.push("welcome")))
        .build();
    const forge = (workflow: ReturnType<typeof build>) =>
      createSmith()
        .forge(workflow, usePersistence(createFoundry("onboarding", { clock }), provider, { instanceId: "user-1" }))
        .catch((error: unknown) => error);
    expect(isSuspended(await forge(build(waitForEvent("hold", "approved"))))).toBe(true);
    const napping = build(sleep("hold", day));
    const suspended = (await forge(napping)) as WorkflowSuspendedError;
    expect(isSuspended(suspended)).toBe(true);
    expect({ wakeAt: suspended.wakeAt?.toISOString(), waitingFor: suspended.waitingFor }).toEqual({ wakeAt: "2026-01-02T00:00:00.000Z", waitingFor: undefined });
    clock.advance(day);
    await forge(napping);
    expect(ran).toEqual(["welcome"]);
  });
});
