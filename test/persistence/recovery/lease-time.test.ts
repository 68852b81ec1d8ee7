import { describe, expect, it, vi } from "vitest";
import { isClaimedByOther } from "../../../src/persistence/claim.js";
import { createTestClock } from "../../../src/persistence/testing/index.js";
import { runCounts } from "../../support/counted-workflow.js";
import { deferred } from "../../support/promises.js";
import { recoveryFixture } from "./fixtures.js";

// A test clock moves wake times, never leases: every lease is written and compared in real time,
// so that workers agree on who holds an instance whatever clock each was given.
const hour = 3_600_000;
const day = 24 * hour;
const stores = [
  ["a store that claims by page", false],
  ["a store that lists only", true],
] as const;

describe.each(stores)("a coordinator whose test clock is set a day in the past, on %s", (_store, listOnly) => {
  it("holds the instance it runs under a lease live in real time, as every other worker and the CLI check it", async () => {
    const gate = deferred();
    const blocked = deferred();
    const fixture = recoveryFixture({ listOnly, onForge: (index) => (index === 1 ? (blocked.resolve(), gate.promise) : undefined) });
    const { instanceId } = fixture.interrupted();
    const pass = fixture.coordinator({ clock: createTestClock(Date.now() - day), leaseTtlMs: 60_000 }).resumeAll();
    await blocked.promise;
    const stored = fixture.stored(instanceId)!;
    // What a worker in another process asks before it runs the instance.
    expect(isClaimedByOther(stored, "worker-2")).toBe(true);
    expect(Date.parse(stored.leaseExpiresAt!)).toBeGreaterThan(Date.now() + 50_000);
    gate.resolve();
    expect((await pass).resumed).toMatchObject([{ instanceId }]);
    expect(runCounts(fixture.log, 3)).toEqual([0, 1, 1]);
  });

  it("renews that lease in real time while an operation outlasts a third of it", async () => {
    const gate = deferred();
    const blocked = deferred();
    const fixture = recoveryFixture({ listOnly, onForge: (index) => (index === 1 ? (blocked.resolve(), gate.promise) : undefined) });
    const { instanceId } = fixture.interrupted();
    const pass = fixture.coordinator({ clock: createTestClock(Date.now() - day), leaseTtlMs: 600 }).resumeAll();
    await blocked.promise;
    const claimed = fixture.stored(instanceId)!.revision;
    // The keeper renews once no checkpoint landed for a third of the lease: the record's next revision.
    await vi.waitFor(() => expect(fixture.stored(instanceId)!.revision).toBeGreaterThan(claimed), { timeout: 10_000, interval: 20 });
    const renewed = fixture.stored(instanceId)!;
    expect(isClaimedByOther(renewed, "worker-2")).toBe(true);
    expect(Date.parse(renewed.leaseExpiresAt!)).toBeGreaterThan(Date.now());
    gate.resolve();
    expect((await pass).resumed).toMatchObject([{ instanceId }]);
  });
});

describe.each(stores)("a coordinator whose test clock runs an hour ahead, on %s", (_store, listOnly) => {
  it("leaves an instance under another worker's live lease alone, in resumeAll and resume alike", async () => {
    const fixture = recoveryFixture({ listOnly });
    const { instanceId, workflowKey } = fixture.interrupted({ owner: "worker-2", leaseExpiresAt: new Date(Date.now() + 60_000).toISOString() });
    const coordinator = fixture.coordinator({ clock: createTestClock(Date.now() + hour) });
    const report = await coordinator.resumeAll();
    const single = await coordinator.resume(instanceId, workflowKey);
    expect(report.resumed).toEqual([]);
    expect(single).toMatchObject({ status: "skipped", reason: "claimed" });
    expect(runCounts(fixture.log, 3)).toEqual([0, 0, 0]);
    expect(fixture.stored(instanceId)).toMatchObject({ owner: "worker-2", revision: 1 });
  });
});

describe.each(stores)("a coordinator whose test clock runs an hour behind, on %s", (_store, listOnly) => {
  it("takes over instances whose lease ended in real time, in resumeAll and resume alike", async () => {
    const fixture = recoveryFixture({ listOnly });
    const listed = fixture.interrupted();
    const named = fixture.interrupted();
    const coordinator = fixture.coordinator({ clock: createTestClock(Date.now() - hour) });
    const single = await coordinator.resume(named.instanceId, named.workflowKey);
    const report = await coordinator.resumeAll();
    expect(single).toMatchObject({ status: "resumed" });
    expect(report.resumed).toMatchObject([{ instanceId: listed.instanceId }]);
    expect(runCounts(fixture.log, 3)).toEqual([0, 2, 2]);
  });
});
