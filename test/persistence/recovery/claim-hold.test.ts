import { describe, expect, it } from "vitest";
import { createFoundry, createSmith } from "../../../src/index.js";
import { isHeldHere } from "../../../src/persistence/held-here.js";
import { usePersistence, type ClaimRequest, type MemoryPersistenceProvider, type WorkflowExecutionSnapshot } from "../../../src/persistence/index.js";
import { runCounts } from "../../support/counted-workflow.js";
import { deferred, sleep, untilAborted } from "../../support/promises.js";
import { aClaimWaitingForALane, heldByARunHere, recoveryFixture } from "./fixtures.js";

// Runs of one process share the lease owner, so a lease does not keep them apart: a claim made by
// page holds its instance in the process from the claim until a run adopts the hold, across
// attempts, and is void once another claim here took the record over.

/** createFoundry for a coordinator: the first run's start hook runs `first`, then fails before the run starts. */
function failingFirstStart(first: () => Promise<void> | void = () => undefined) {
  let starts = 0;
  const flaky = Object.assign(async (_context: unknown, next: () => Promise<unknown>) => next(), {
    start: async () => {
      if (starts++ > 0) return;
      await first();
      throw new Error("transient");
    },
  });
  return () => createFoundry("Orders").use(flaky);
}

describe("a claim made by page holds its instance in this process", () => {
  it("another coordinator of this process, with the same owner, leaves a claim waiting for a lane to the pass that made it", async () => {
    const { fixture, waiting, release } = await aClaimWaitingForALane();
    const other = fixture.coordinator({ concurrency: 1 });
    expect(await other.resume(waiting, fixture.workflow.id)).toMatchObject({ status: "skipped", reason: "claimed" });
    expect((await other.resumeAll()).resumed).toEqual([]);
    const report = await release();
    expect(report.resumed.map((item) => item.instanceId)).toContain(waiting);
    expect(report.resumed.map((item) => item.attempts)).toEqual([1, 1, 1, 1]);
    expect(runCounts(fixture.log, 3)).toEqual([0, 4, 4]);
    expect(isHeldHere({ foundryExecutionId: waiting, workflowId: fixture.workflow.id })).toBe(false);
    await other.close();
  });

  it("a persisted run of this process, with the same owner, is refused an instance whose claim waits for a lane", async () => {
    const { fixture, waiting, release } = await aClaimWaitingForALane();
    const foundry = usePersistence(createFoundry("Orders"), fixture.provider, { instanceId: waiting, workflowKey: fixture.workflow.id, owner: "worker-1", lease: { ttlMs: 5_000 } });
    await expect(createSmith().forge(fixture.workflow, foundry)).rejects.toMatchObject({ code: "SNAPSHOT_CONFLICT" });
    await release();
    expect(runCounts(fixture.log, 3)).toEqual([0, 4, 4]);
  });

  it("an attempt that fails before its run started leaves the claim's hold to the next attempt, which runs", async () => {
    const fixture = recoveryFixture();
    const { instanceId } = fixture.interrupted();
    const coordinator = fixture.coordinator({ createFoundry: failingFirstStart() });
    const report = await coordinator.resumeAll();
    expect(report.skipped).toEqual([]);
    expect(report.resumed).toMatchObject([{ instanceId, attempts: 2 }]);
    expect(runCounts(fixture.log, 3)).toEqual([0, 1, 1]);
    expect(isHeldHere({ foundryExecutionId: instanceId, workflowId: fixture.workflow.id })).toBe(false);
  });

  it("a retry whose claim another coordinator here took over meanwhile leaves the instance to it: each step runs once", async () => {
    // The first attempt fails in a start hook, before its run started. Meanwhile its short lease
    // ends, and a second coordinator claims the record.
    const fixture = recoveryFixture();
    const { instanceId } = fixture.interrupted();
    const later = fixture.coordinator();
    const claim = fixture.provider.claim.bind(fixture.provider);
    const claimedAgain = deferred();
    let pages = 0;
    fixture.provider.claim = async (request: ClaimRequest): Promise<WorkflowExecutionSnapshot[]> => {
      const page = await claim(request);
      if (page.length > 0 && ++pages === 2) claimedAgain.resolve();
      return page;
    };
    let laterPass: ReturnType<typeof later.resumeAll> | undefined;
    const createFoundry = failingFirstStart(async () => {
      await sleep(80);
      laterPass = later.resumeAll();
      await claimedAgain.promise;
    });
    const report = await fixture.coordinator({ createFoundry, leaseTtlMs: 50 }).resumeAll();
    expect(report.skipped).toMatchObject([{ instanceId, reason: "claimed" }]);
    expect((await laterPass)?.resumed).toMatchObject([{ instanceId }]);
    expect(runCounts(fixture.log, 3)).toEqual([0, 1, 1]);
    expect(isHeldHere({ foundryExecutionId: instanceId, workflowId: fixture.workflow.id })).toBe(false);
  });

  it("an abort of the caller's signal inside the first operation keeps the attempt counted and the lease, as the run left them", async () => {
    const started = deferred();
    const fixture = recoveryFixture({ onForge: (index, _attempt, _foundry, signal) => (index === 1 ? (started.resolve(), untilAborted(signal)) : undefined) });
    const { instanceId } = fixture.interrupted();
    const controller = new AbortController();
    const pass = fixture.coordinator({ leaseTtlMs: 60_000 }).resumeAll(undefined, { signal: controller.signal });
    await started.promise;
    controller.abort();
    expect((await pass).failed).toMatchObject([{ instanceId, attempts: 1 }]);
    const stored = fixture.stored(instanceId);
    expect(stored?.attempts).toBe(1);
    expect(stored?.leaseExpiresAt).toBeDefined();
  });

  it("an abort of the caller's signal while the workflow is being resolved gives the claim back, its attempt not counted", async () => {
    const fixture = recoveryFixture();
    const { instanceId, workflowKey } = fixture.interrupted({ attempts: 1 });
    const resolving = deferred();
    const resolved = deferred();
    const controller = new AbortController();
    const coordinator = fixture.coordinator({ leaseTtlMs: 600_000, resolveWorkflow: async () => (resolving.resolve(), await resolved.promise, fixture.workflow) });
    const pass = coordinator.resumeAll(undefined, { signal: controller.signal });
    await resolving.promise;
    expect(fixture.stored(instanceId)).toMatchObject({ attempts: 2 });
    controller.abort();
    resolved.resolve();
    expect((await pass).failed).toMatchObject([{ instanceId, attempts: 1, error: { name: "AbortError" } }]);
    expect(fixture.stored(instanceId)).toMatchObject({ attempts: 1 });
    expect(fixture.stored(instanceId)?.leaseExpiresAt).toBeUndefined();
    expect(isHeldHere({ foundryExecutionId: instanceId, workflowId: workflowKey })).toBe(false);
    expect(runCounts(fixture.log, 3)).toEqual([0, 0, 0]);
  });

  it("a cancellation during the pause between attempts is honoured by the retry, which holds the claim's hold", async () => {
    const fixture = recoveryFixture();
    const { instanceId, workflowKey } = fixture.interrupted();
    const coordinator = fixture.coordinator({ createFoundry: failingFirstStart(async () => void (await coordinator.cancel(instanceId, workflowKey))) });
    const report = await coordinator.resumeAll();
    expect(report.cancelled).toMatchObject([{ instanceId }]);
    expect(report.skipped).toEqual([]);
    expect(runCounts(fixture.log, 3)).toEqual([0, 0, 0]);
    expect(isHeldHere({ foundryExecutionId: instanceId, workflowId: workflowKey })).toBe(false);
  });

  it("a claim handed over from a run here reloads the record within the lease: a store that hangs does not keep the hold", async () => {
    // A run of this process without a lease holds the instance, blocked in operation 1, when the pass claims it.
    const { fixture, instanceId, workflowKey, direct, release } = await heldByARunHere();
    // The coordinator's view of the store: once a page is claimed, the run here is let go (handing
    // its hold to the claim) and the coordinator's loads hang.
    let hanging = false;
    const store = Object.assign(Object.create(fixture.provider) as MemoryPersistenceProvider, {
      claim: async (request: ClaimRequest): Promise<WorkflowExecutionSnapshot[]> => {
        const page = await fixture.provider.claim(request);
        if (page.length > 0) {
          hanging = true;
          release();
        }
        return page;
      },
      tryLoad: (id: string, key: string) => (hanging ? new Promise<never>(() => undefined) : fixture.provider.tryLoad(id, key)),
    });
    const report = await fixture.coordinator({ provider: store, leaseTtlMs: 300 }).resumeAll();
    expect(report.failed).toMatchObject([{ instanceId, error: { code: "PERSISTENCE", call: "tryLoad", keys: { foundryExecutionId: instanceId }, message: expect.stringContaining("did not answer within the lease") } }]);
    expect(await direct).toMatchObject({ code: "SNAPSHOT_CONFLICT" });
    expect(isHeldHere({ foundryExecutionId: instanceId, workflowId: workflowKey })).toBe(false);
  });

  it("a retry whose claim another coordinator here gave back after waiting for its hold runs the instance", async () => {
    // As above, but the second coordinator's lease is short: it gives its claim back before the retry.
    const fixture = recoveryFixture();
    const { instanceId } = fixture.interrupted();
    const later = fixture.coordinator({ leaseTtlMs: 50 });
    let laterPass: ReturnType<typeof later.resumeAll> | undefined;
    const retry = { baseDelayMs: 300, maxDelayMs: 300, jitter: 0 };
    const startLater = async () => {
      await sleep(80);
      laterPass = later.resumeAll();
    };
    const report = await fixture.coordinator({ retry, leaseTtlMs: 50, createFoundry: failingFirstStart(startLater) }).resumeAll();
    expect((await laterPass)?.skipped).toMatchObject([{ instanceId, reason: "claimed" }]);
    expect(report.resumed).toMatchObject([{ instanceId }]);
    expect(runCounts(fixture.log, 3)).toEqual([0, 1, 1]);
  });

  it("an abort of the caller's signal while its claim waits for a run here gives the claim back at once, its attempt not counted", async () => {
    const { fixture, instanceId, direct, claimed, release } = await heldByARunHere({ attempts: 1 });
    const controller = new AbortController();
    const pass = fixture.coordinator({ leaseTtlMs: 600_000 }).resumeAll(undefined, { signal: controller.signal });
    await claimed;
    expect(fixture.stored(instanceId)).toMatchObject({ attempts: 2 });
    controller.abort();
    expect((await pass).failed).toMatchObject([{ instanceId, attempts: 1, error: { name: "AbortError" } }]);
    expect(fixture.stored(instanceId)).toMatchObject({ attempts: 1 });
    expect(fixture.stored(instanceId)?.leaseExpiresAt).toBeUndefined();
    release();
    await direct;
  });
});
