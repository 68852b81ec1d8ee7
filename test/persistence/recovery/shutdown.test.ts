import { describe, expect, it, vi } from "vitest";
import { createFoundry } from "../../../src/index.js";
import { isHeldHere } from "../../../src/persistence/held-here.js";
import type { ClaimRequest, MemoryPersistenceProvider, WorkflowExecutionSnapshot, WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { sleep, untilAborted } from "../../support/promises.js";
import { runCounts } from "../../support/counted-workflow.js";
import { deferred } from "../../support/promises.js";
import { heldByARunHere, recoveryFixture } from "./fixtures.js";

// The fixture's instances have operation 0 done; operations 1 and 2 remain.

/** A fixture whose first attempt holds in operation 1 (`inside` once there) until `finish` resolves. */
function heldInSecondOperation() {
  const inside = deferred();
  const finish = deferred();
  const fixture = recoveryFixture({ onForge: (index, attempt) => (index === 1 && attempt === 1 ? (inside.resolve(), finish.promise) : undefined) });
  return { inside, finish, fixture };
}

describe("coordinator.close(): graceful shutdown", () => {
  it("lets the running operation finish, starts no other, and gives the claim back without counting an attempt", async () => {
    const { inside, finish, fixture } = heldInSecondOperation();
    const { instanceId, workflowKey } = fixture.interrupted({ attempts: 1 });
    const worker = fixture.coordinator({ leaseTtlMs: 60_000 });
    const outcome = worker.resume(instanceId, workflowKey);
    await inside.promise;
    const closed = worker.close();
    finish.resolve();
    await closed;
    expect(await outcome).toMatchObject({ status: "skipped", reason: "closed" });
    expect(runCounts(fixture.log, 3)).toEqual([0, 1, 0]);
    const released = fixture.stored(instanceId);
    expect(released).toMatchObject({ status: "running", nextOperationIndex: 2, attempts: 1, owner: "worker-1" });
    expect(released?.leaseExpiresAt).toBeUndefined();
    // Another worker takes it over at once instead of waiting out the 60 s lease.
    const next = await fixture.coordinator({ owner: "worker-2" }).resume(instanceId, workflowKey);
    expect(next).toMatchObject({ status: "resumed", attempts: 2 });
    expect(runCounts(fixture.log, 3)).toEqual([0, 1, 1]);
  });

  it("aborts operations still running at the deadline, and still gives their claims back", async () => {
    const inside = deferred();
    const fixture = recoveryFixture({ onForge: (index, attempt, _foundry, signal) => (index === 1 && attempt === 1 ? (inside.resolve(), untilAborted(signal)) : undefined) });
    const { instanceId, workflowKey } = fixture.interrupted();
    const worker = fixture.coordinator({ leaseTtlMs: 60_000 });
    const outcome = worker.resume(instanceId, workflowKey);
    await inside.promise;
    await worker.close({ timeoutMs: 10 });
    expect(await outcome).toMatchObject({ status: "skipped", reason: "closed" });
    expect(fixture.stored(instanceId)).toMatchObject({ status: "running", nextOperationIndex: 1 });
    expect(fixture.stored(instanceId)?.leaseExpiresAt).toBeUndefined();
    expect(await fixture.coordinator({ owner: "worker-2" }).resume(instanceId, workflowKey)).toMatchObject({ status: "resumed" });
  });

  it("once close() resolved, a run that ignores its abort renews nothing: its lease has run out and another worker takes over", async () => {
    const { inside, finish, fixture } = heldInSecondOperation();
    const { instanceId, workflowKey } = fixture.interrupted();
    // Long enough that a busy machine does not lose the lease before the operation starts.
    const worker = fixture.coordinator({ leaseTtlMs: 300 });
    const outcome = worker.resume(instanceId, workflowKey);
    await inside.promise;
    await worker.close({ timeoutMs: 10 });
    const atClose = fixture.stored(instanceId);
    // A keeper still renewing would write every 100 ms or so: some eight renewals in this time.
    await sleep(800);
    expect(fixture.stored(instanceId)?.revision).toBe(atClose?.revision);
    expect(Date.parse(fixture.stored(instanceId)?.leaseExpiresAt ?? "")).toBeLessThanOrEqual(Date.now());
    // The operation ends at last: its checkpoint is refused, the claim having run out, and only
    // then does this process let go (another process could have taken the instance over already).
    finish.resolve();
    expect(await outcome).toMatchObject({ status: "skipped", reason: "claimed" });
    expect(fixture.stored(instanceId)).toMatchObject({ revision: atClose?.revision, nextOperationIndex: 1 });
    expect(await fixture.coordinator({ owner: "worker-2" }).resume(instanceId, workflowKey)).toMatchObject({ status: "resumed" });
    expect(runCounts(fixture.log, 3)).toEqual([0, 2, 1]);
  });

  it("lets a checkpoint in flight at the deadline land, then gives the claim back", async () => {
    const saving = deferred();
    const land = deferred();
    const fixture = recoveryFixture();
    const { instanceId, workflowKey } = fixture.interrupted();
    const save = fixture.provider.save.bind(fixture.provider);
    // The checkpoint after operation 1 is slow to land.
    // The store may answer a save asynchronously; the memory provider's own save happens to be synchronous.
    (fixture.provider as WorkflowPersistenceProvider).save = async (snapshot, signal) => {
      if (snapshot.nextOperationIndex === 2 && snapshot.leaseExpiresAt !== undefined) {
        saving.resolve();
        await land.promise;
      }
      save(snapshot, signal);
    };
    const worker = fixture.coordinator({ leaseTtlMs: 60_000 });
    const outcome = worker.resume(instanceId, workflowKey);
    await saving.promise;
    const closed = worker.close({ timeoutMs: 1 });
    // A timer due later than close()'s 1 ms deadline fires after it, however busy the machine.
    await new Promise((resolve) => setTimeout(resolve, 10));
    land.resolve();
    await closed;
    expect(await outcome).toMatchObject({ status: "skipped", reason: "closed" });
    expect(runCounts(fixture.log, 3)).toEqual([0, 1, 0]);
    expect(fixture.stored(instanceId)).toMatchObject({ status: "running", nextOperationIndex: 2 });
    expect(fixture.stored(instanceId)?.leaseExpiresAt).toBeUndefined();
  });

  it("releases only its own claim: a run another worker took over is left alone", async () => {
    const { inside, finish, fixture } = heldInSecondOperation();
    const { instanceId, workflowKey } = fixture.interrupted();
    const worker = fixture.coordinator({ leaseTtlMs: 60_000 });
    const outcome = worker.resume(instanceId, workflowKey);
    await inside.promise;
    const taken = fixture.stored(instanceId);
    if (taken === undefined) throw new Error("the instance should be stored");
    fixture.provider.save({ ...taken, owner: "worker-2", revision: taken.revision + 1 });
    const closed = worker.close();
    finish.resolve();
    await closed;
    expect((await outcome).status).not.toBe("resumed");
    expect(fixture.stored(instanceId)).toMatchObject({ owner: "worker-2", revision: taken.revision + 1 });
  });

  it("resolves only once a pass has given back the page it was claiming when close() was called", async () => {
    const fixture = recoveryFixture();
    const { instanceId } = fixture.interrupted({ attempts: 1 });
    const claim = fixture.provider.claim.bind(fixture.provider);
    const claimStored = deferred();
    const answer = deferred();
    fixture.provider.claim = async (...args: Parameters<typeof claim>) => {
      const page = await claim(...args);
      claimStored.resolve();
      await answer.promise;
      return page;
    };
    const worker = fixture.coordinator({ leaseTtlMs: 60_000 });
    const pass = worker.resumeAll();
    await claimStored.promise;
    let leasedWhenClosed: boolean | undefined;
    const closed = worker.close().then(() => void (leasedWhenClosed = fixture.stored(instanceId)?.leaseExpiresAt !== undefined));
    // The page answers only after close() was called.
    await new Promise((resolve) => setImmediate(resolve));
    answer.resolve();
    await closed;
    expect(leasedWhenClosed).toBe(false);
    expect(fixture.stored(instanceId)).toMatchObject({ attempts: 1, owner: "worker-1" });
    expect((await pass).skipped).toMatchObject([{ instanceId, reason: "closed" }]);
    expect(runCounts(fixture.log, 3)).toEqual([0, 0, 0]);
  });

  it("gives back a claim that close() stopped while its workflow was being resolved, before the run adopted it", async () => {
    const resolving = deferred();
    const resolved = deferred();
    const fixture = recoveryFixture();
    const { instanceId } = fixture.interrupted({ attempts: 1 });
    const worker = fixture.coordinator({
      leaseTtlMs: 60_000,
      resolveWorkflow: async () => {
        resolving.resolve();
        await resolved.promise;
        return fixture.workflow;
      },
    });
    const pass = worker.resumeAll();
    await resolving.promise;
    const closed = worker.close();
    resolved.resolve();
    await closed;
    expect((await pass).skipped).toMatchObject([{ instanceId, reason: "closed" }]);
    const stored = fixture.stored(instanceId);
    expect(stored).toMatchObject({ status: "running", attempts: 1, owner: "worker-1" });
    expect(stored?.leaseExpiresAt).toBeUndefined();
    expect(runCounts(fixture.log, 3)).toEqual([0, 0, 0]);
  });

  it("does not wait a lease for a run here to let go of what a pass claimed: close() gives the claim back at once", async () => {
    // A run of this process without a lease holds the instance, blocked in operation 1, when the pass claims it.
    const { fixture, instanceId, direct, claimed, release } = await heldByARunHere({ attempts: 1 });
    const worker = fixture.coordinator({ leaseTtlMs: 600_000 });
    const pass = worker.resumeAll();
    await claimed;
    expect(fixture.stored(instanceId)?.leaseExpiresAt).toBeDefined();
    await worker.close({ timeoutMs: 50 });
    expect((await pass).skipped).toMatchObject([{ instanceId, reason: "closed" }]);
    expect(fixture.stored(instanceId)?.leaseExpiresAt).toBeUndefined();
    release();
    await direct;
  });

  it("gives back the lease a failed attempt left when close() comes during the pause before the retry, its attempt counted", async () => {
    const fixture = recoveryFixture();
    const save = fixture.provider.save.bind(fixture.provider);
    const failed = deferred();
    let failures = 0;
    // The checkpoint after operation 1 fails once: the attempt fails, leaving its lease on the record.
    fixture.provider.save = (snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal) => {
      if (snapshot.nextOperationIndex !== 2 || failures++ > 0) return save(snapshot, signal);
      failed.resolve();
      throw new Error("store unavailable");
    };
    const { instanceId, workflowKey } = fixture.interrupted({ attempts: 0 });
    const worker = fixture.coordinator({ leaseTtlMs: 60_000, retry: { baseDelayMs: 60_000, maxDelayMs: 60_000, jitter: 0 } });
    const outcome = worker.resume(instanceId, workflowKey);
    await failed.promise;
    while (isHeldHere({ foundryExecutionId: instanceId, workflowId: workflowKey })) await sleep(1);
    await worker.close();
    expect(await outcome).toMatchObject({ status: "skipped", reason: "closed" });
    expect(fixture.stored(instanceId)).toMatchObject({ status: "running", attempts: 1 });
    expect(fixture.stored(instanceId)?.leaseExpiresAt).toBeUndefined();
    expect(await fixture.coordinator({ owner: "worker-2" }).resume(instanceId, workflowKey)).toMatchObject({ status: "resumed" });
    expect(runCounts(fixture.log, 3)).toEqual([0, 2, 1]);
  });

  it("reports the failure, not a give-back, when close() comes during the pause after an attempt that ended the instance", async () => {
    // Operation 1 fails on the first attempt: the smith compensates, and the record is deleted.
    const fixture = recoveryFixture({
      onForge: (index, attempt) => {
        if (index === 1 && attempt === 1) throw new Error("card declined");
        return undefined;
      },
    });
    const { instanceId, workflowKey } = fixture.interrupted({ attempts: 0 });
    const worker = fixture.coordinator({ retry: { baseDelayMs: 60_000, maxDelayMs: 60_000, jitter: 0 } });
    const outcome = worker.resume(instanceId, workflowKey);
    await expect.poll(() => fixture.stored(instanceId)).toBeUndefined();
    while (isHeldHere({ foundryExecutionId: instanceId, workflowId: workflowKey })) await sleep(1);
    await worker.close();
    expect(await outcome).toMatchObject({ status: "failed", error: { code: "OPERATION_FAILED" }, deadLettered: false });
  });

  it("gives back the lease a failed attempt left when close() stops the retry as it starts", async () => {
    const fixture = recoveryFixture();
    const save = fixture.provider.save.bind(fixture.provider);
    let failures = 0;
    fixture.provider.save = (snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal) => {
      if (snapshot.nextOperationIndex !== 2 || failures++ > 0) return save(snapshot, signal);
      throw new Error("store unavailable");
    };
    const { instanceId, workflowKey } = fixture.interrupted({ attempts: 0 });
    let foundries = 0;
    let closing: Promise<void> | undefined;
    // The retry's foundry is made as the coordinator closes: its run stops before it starts.
    const worker = fixture.coordinator({
      leaseTtlMs: 60_000,
      retry: { baseDelayMs: 0, maxDelayMs: 0, jitter: 0 },
      createFoundry: () => ((closing = foundries++ === 1 ? worker.close() : closing), createFoundry("Orders")),
    });
    expect(await worker.resume(instanceId, workflowKey)).toMatchObject({ status: "skipped", reason: "closed" });
    await closing;
    expect(foundries).toBe(2);
    expect(fixture.stored(instanceId)).toMatchObject({ status: "running", attempts: 1 });
    expect(fixture.stored(instanceId)?.leaseExpiresAt).toBeUndefined();
  });

  it("gives back only the lease the failed attempt left, never one another coordinator here claimed since", async () => {
    // The retry's run claims, close() stops it and it gives its claim back itself; another
    // coordinator of this process (same owner) claims the record at once. Its claim must keep its
    // lease: taking it away would let a third worker run what it runs.
    const fixture = recoveryFixture();
    const { provider } = fixture;
    const [save, tryLoad, claim] = [provider.save.bind(provider), provider.tryLoad.bind(provider), provider.claim.bind(provider)];
    let failures = 0;
    let closing: Promise<void> | undefined;
    let otherPass: Promise<unknown> | undefined;
    const otherClaimed = deferred();
    const otherAnswered = deferred();
    provider.save = (snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal) => {
      if (snapshot.nextOperationIndex === 2 && failures++ === 0) throw new Error("store unavailable");
      const saved = save(snapshot, signal);
      if (closing === undefined && snapshot.attempts === 2 && snapshot.leaseExpiresAt !== undefined) closing = worker.close();
      else if (closing !== undefined && snapshot.leaseExpiresAt === undefined && otherPass === undefined) otherPass = other.resumeAll();
      return saved;
    };
    // From then on, anything loaded here is loaded after the other coordinator's claim landed.
    provider.tryLoad = ((id: string, key: string, signal?: AbortSignal) =>
      otherPass === undefined ? tryLoad(id, key, signal) : otherClaimed.promise.then(() => tryLoad(id, key, signal))) as typeof provider.tryLoad;
    // Its claim's answer comes late: until then it holds nothing in this process.
    const lateAnswers = Object.assign(Object.create(provider) as MemoryPersistenceProvider, {
      claim: async (request: ClaimRequest, signal?: AbortSignal) => {
        const page = await claim(request, signal);
        otherClaimed.resolve();
        await otherAnswered.promise;
        return page;
      },
    });
    const { instanceId, workflowKey } = fixture.interrupted({ attempts: 0 });
    const worker = fixture.coordinator({ leaseTtlMs: 60_000, retry: { baseDelayMs: 0, maxDelayMs: 0, jitter: 0 } });
    const other = fixture.coordinator({ provider: lateAnswers, leaseTtlMs: 60_000 });
    expect(await worker.resume(instanceId, workflowKey)).toMatchObject({ status: "skipped", reason: "closed" });
    await closing;
    // The store as it is (tryLoad is the provider's own, not the one made to wait above).
    expect(tryLoad(instanceId, workflowKey)?.leaseExpiresAt).toBeDefined();
    expect(await fixture.coordinator({ owner: "worker-2" }).resume(instanceId, workflowKey)).toMatchObject({ status: "skipped", reason: "claimed" });
    otherAnswered.resolve();
    await otherPass;
    await other.close();
    expect(runCounts(fixture.log, 3)).toEqual([0, 2, 1]);
  });

  it("resolves within timeoutMs with nothing running while its push subscription never answers", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
    try {
      const fixture = recoveryFixture();
      const hung = { subscribes: 0 };
      // A store gone silent as the worker subscribes (a LISTEN that never answers).
      const silent = new Proxy(fixture.provider, {
        get(target, property) {
          if (property === "capabilities") return { ...target.capabilities, push: true };
          if (property === "subscribe") return () => (hung.subscribes++, new Promise<never>(() => undefined));
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
      const worker = fixture.coordinator({ provider: silent, leaseTtlMs: 60_000 });
      worker.start({ pollIntervalMs: 3_600_000 });
      await vi.advanceTimersByTimeAsync(0);
      expect(hung.subscribes).toBe(1);
      const closed = vi.fn();
      void worker.close({ timeoutMs: 500 }).then(closed);
      await vi.advanceTimersByTimeAsync(500);
      expect(closed).toHaveBeenCalled();
    } finally {
      vi.useRealTimers();
    }
  });

  it("runs nothing once closed", async () => {
    const fixture = recoveryFixture();
    const { instanceId, workflowKey } = fixture.interrupted();
    const worker = fixture.coordinator();
    await worker.close();
    expect(await worker.resumeAll()).toEqual({ resumed: [], suspended: [], failed: [], cancelled: [], skipped: [] });
    expect(await worker.resume(instanceId, workflowKey)).toMatchObject({ status: "skipped", reason: "closed" });
    expect(runCounts(fixture.log, 3)).toEqual([0, 0, 0]);
  });
});
