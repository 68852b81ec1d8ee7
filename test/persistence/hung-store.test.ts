import { describe, expect, it, vi } from "vitest";
import { createFoundry, createSmith } from "../../src/index.js";
import { isHeldHere } from "../../src/persistence/held-here.js";
import { MemoryPersistenceProvider, PersistenceError, SnapshotConflictError, createRecoveryCoordinator, usePersistence, type WorkflowExecutionSnapshot, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { countedFoundry, countedWorkflow, runCounts } from "../support/counted-workflow.js";
import { deferred, rejectionOf, sleep } from "../support/promises.js";
import { RecordingProvider } from "../support/recording-provider.js";
import { uniqueKeys } from "../support/run-snapshots.js";
import { recoveryFixture, type RecoveryFixture } from "./recovery/fixtures.js";

const ttlMs = 120;
const never = (): Promise<never> => new Promise<never>(() => undefined);

describe("a leased run on a store that hangs instead of failing", () => {
  it("loses the claim and rejects when a checkpoint never answers", async () => {
    const provider = new RecordingProvider(undefined, { save: (snapshot) => (snapshot.nextOperationIndex === 1 ? never() : undefined) });
    const { foundry, log } = countedFoundry(3);
    usePersistence(foundry, provider, { ...uniqueKeys(), lease: { ttlMs } });
    const error = await rejectionOf(foundry.forge());
    expect(error).toBeInstanceOf(SnapshotConflictError);
    expect((error as Error).message).toMatch(/the lease ran out/);
    expect(runCounts(log, 3)).toEqual([1, 0, 0]);
  });

  it("settles within a lease and a quarter when the store stops answering altogether: the load that would explain the lost claim gets a quarter", async () => {
    // On fake clocks: the point is how many leases pass, which a busy machine must not decide.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "performance", "Date"] });
    try {
      const lease = 4_000;
      let answering = true;
      const hangs = () => (answering ? undefined : never());
      const provider = new RecordingProvider(undefined, { save: hangs, tryLoad: hangs });
      const { foundry } = countedFoundry(3);
      usePersistence(foundry, provider, { ...uniqueKeys(), lease: { ttlMs: lease } });
      const settled = vi.fn();
      // The claim and the first checkpoint land; then nothing answers, the lease's renewal included.
      foundry.on("snapshotSaved", (event) => void (event.nextOperationIndex === 1 && (answering = false)));
      const run = foundry.forge().then(settled, settled);
      await vi.advanceTimersByTimeAsync(lease);
      expect(settled).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(lease / 4 + 10);
      expect(settled).toHaveBeenCalledWith(expect.objectContaining({ code: "SNAPSHOT_CONFLICT" }));
      await run;
    } finally {
      vi.useRealTimers();
    }
  });

  it("loses the claim and rejects when the first load never answers", async () => {
    const provider = new RecordingProvider(undefined, { tryLoad: never });
    const { foundry, log } = countedFoundry(2);
    usePersistence(foundry, provider, { ...uniqueKeys(), lease: { ttlMs } });
    expect(await rejectionOf(foundry.forge())).toBeInstanceOf(SnapshotConflictError);
    expect(runCounts(log, 2)).toEqual([0, 0]);
  });

  it("aborts the running operation when its renewal never answers", async () => {
    let aborted = false;
    // The claim and the first checkpoint land; every later save (the renewal) hangs.
    const provider = new RecordingProvider(undefined, { save: (_snapshot, attempt) => (attempt > 2 ? never() : undefined) });
    const foundry = createFoundry("LongStep")
      .withOperation("quick", () => undefined)
      .withOperation("long", (_input, _foundry, signal) => new Promise((_resolve, reject) => signal.addEventListener("abort", () => ((aborted = true), reject(signal.reason as Error)))));
    usePersistence(foundry, provider, { ...uniqueKeys(), lease: { ttlMs } });
    expect(await rejectionOf(foundry.forge())).toBeInstanceOf(SnapshotConflictError);
    expect(aborted).toBe(true);
  });

  it("lets the coordinator's resumeAll settle, reporting the lost claim", async () => {
    const store = new MemoryPersistenceProvider();
    const hanging = new RecordingProvider(store);
    const { workflow } = countedWorkflow(2, { name: "Hangs", version: "1" });
    const coordinator = createRecoveryCoordinator({ provider: hanging, resolveWorkflow: () => workflow, leaseTtlMs: ttlMs, retry: { attempts: 1 } });
    await coordinator.enqueue(workflow, { instanceId: uniqueKeys().instanceId });
    hanging.intercept = { save: (snapshot) => (snapshot.nextOperationIndex === 1 ? never() : undefined) };
    const report = await coordinator.resumeAll();
    expect(report.resumed).toEqual([]);
    expect([...report.failed, ...report.skipped]).toHaveLength(1);
  });
});

describe("the coordinator on a store whose give-backs never answer", () => {
  /** A memory store, and a provider on it whose saves hang once `state.hang` is set. */
  function hangingSaves() {
    const store = new MemoryPersistenceProvider();
    const state = { hang: false };
    const provider: WorkflowPersistenceProvider = {
      capabilities: { ...store.capabilities, mailbox: false, push: false },
      save: (snapshot) => (state.hang ? never() : store.save(snapshot)),
      tryLoad: (instanceId, workflowId) => store.tryLoad(instanceId, workflowId),
      delete: (instanceId, workflowId) => store.delete(instanceId, workflowId),
      list: (filter) => store.list(filter),
      claim: (request) => store.claim(request),
    };
    return { store, provider, state };
  }

  it("settles resumeAll within the lease when the attempt it gives back after an unknown workflow hangs", async () => {
    const { store, provider, state } = hangingSaves();
    const { workflow } = countedWorkflow(2, { name: "Hangs", version: "1" });
    const { instanceId } = uniqueKeys();
    await createRecoveryCoordinator({ provider: store, resolveWorkflow: () => workflow }).enqueue(workflow, { instanceId });
    // The claim is stored; the save that gives its attempt back never answers.
    state.hang = true;
    const report = await createRecoveryCoordinator({ provider, resolveWorkflow: () => undefined, leaseTtlMs: ttlMs }).resumeAll();
    expect(report.failed).toMatchObject([{ instanceId, deadLettered: false }]);
    expect(store.tryLoad(instanceId, workflow.id)).toMatchObject({ attempts: 1 });
  });

  it("settles resume within the lease when the dead letter it stores hangs", async () => {
    const { store, provider, state } = hangingSaves();
    const { workflow } = countedWorkflow(2, { name: "Hangs", version: "1" });
    const ref = await createRecoveryCoordinator({ provider: store, resolveWorkflow: () => workflow }).enqueue(workflow, { instanceId: uniqueKeys().instanceId });
    // A run that died in its last attempt, its lease run out: the coordinator dead-letters it without running it.
    const stored = store.tryLoad(ref.instanceId, ref.workflowKey)!;
    store.save({ ...stored, revision: stored.revision + 1, status: "running", attempts: 1, owner: "dead-worker", leaseExpiresAt: new Date(Date.now() - 1_000).toISOString() });
    state.hang = true;
    const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow, leaseTtlMs: ttlMs, retry: { attempts: 1 } });
    const outcome = await coordinator.resume(ref.instanceId, ref.workflowKey);
    // Reported as any failed store call is: typed, naming the call and the instance.
    expect(outcome).toMatchObject({ status: "failed", deadLettered: false, error: { code: "PERSISTENCE", call: "save", keys: { foundryExecutionId: ref.instanceId } } });
    expect((outcome as { error: Error }).error).toBeInstanceOf(PersistenceError);
    // The dead letter never landed: the record is as it was, for a later pass to try again.
    expect(store.tryLoad(ref.instanceId, ref.workflowKey)).toMatchObject({ status: "running", attempts: 1, revision: stored.revision + 1 });
  });
});

describe("the coordinator beside a run of this process that never lets go", () => {
  it("gives back a claim on the instance that run holds once the lease passed, and the pass settles", async () => {
    const provider = new MemoryPersistenceProvider();
    // The run without a lease checkpoints its first operation, then hangs in the second: its record
    // is claimable, and this process holds the instance.
    const hung = deferred();
    const { workflow } = countedWorkflow(2, { name: "Hangs", version: "1", onForge: (index) => (index === 1 ? (hung.resolve(), never()) : undefined) });
    const { instanceId } = uniqueKeys();
    void createSmith().forge(workflow, usePersistence(createFoundry(workflow.name), provider, { instanceId, workflowKey: workflow.id }));
    await hung.promise;
    const report = await createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow, leaseTtlMs: ttlMs }).resumeAll();
    expect(report.skipped).toMatchObject([{ instanceId, reason: "claimed", detail: "another run in this process is running it" }]);
    expect(report.resumed).toEqual([]);
    const stored = provider.tryLoad(instanceId, workflow.id);
    expect(stored?.leaseExpiresAt).toBeUndefined();
    expect(stored?.attempts ?? 0).toBe(0);
  });
});

describe("a leased run paused past its lease", () => {
  it("does not start another operation on a claim that may have been taken over", async () => {
    const provider = new MemoryPersistenceProvider();
    const { foundry, log } = countedFoundry(2);
    // A synchronous pause right after the first checkpoint: no timer can fire, as under SIGSTOP.
    foundry.on("snapshotSaved", ({ nextOperationIndex }) => {
      if (nextOperationIndex !== 1) return;
      const until = performance.now() + ttlMs + 20;
      while (performance.now() < until);
    });
    usePersistence(foundry, provider, { ...uniqueKeys(), lease: { ttlMs } });
    const error = await rejectionOf(foundry.forge());
    expect(error).toBeInstanceOf(SnapshotConflictError);
    expect(runCounts(log, 2)).toEqual([1, 0]);
  });
});

describe("the coordinator on a store whose claim never answers", () => {
  // Long enough that the recovered run's own lease holds on a busy machine; the pass waits one.
  const leaseTtlMs = 1_000;

  /** Replaces the fixture's claim(): the first call gets `first()`'s answer, the others the store's own. */
  function firstClaim(fixture: RecoveryFixture, first: (claim: () => Promise<WorkflowExecutionSnapshot[]>) => Promise<WorkflowExecutionSnapshot[]>): void {
    const claim = fixture.provider.claim.bind(fixture.provider);
    let calls = 0;
    fixture.provider.claim = (request, signal, options) => (calls++ === 0 ? first(() => claim(request, signal, options)) : claim(request, signal, options));
  }

  it("fails the pass within the lease, naming the call, and a started coordinator goes on polling: it claims again after five leases", async () => {
    const fixture = recoveryFixture();
    firstClaim(fixture, never);
    const { instanceId } = fixture.interrupted();
    const errors: unknown[] = [];
    const worker = fixture.coordinator({ leaseTtlMs });
    worker.start({ pollIntervalMs: 10, onError: (error) => void errors.push(error) });
    while (fixture.stored(instanceId) !== undefined) await sleep(5);
    await worker.close();
    expect(errors[0]).toBeInstanceOf(PersistenceError);
    expect(errors[0]).toMatchObject({ call: "claim", message: expect.stringContaining(`did not answer within the lease (${leaseTtlMs} ms)`) });
    // The passes in between sent no claim: one that lands after the first would count another attempt.
    expect(errors[1]).toMatchObject({ call: "claim", message: expect.stringContaining("an earlier claim of this coordinator is still unanswered") });
    expect(runCounts(fixture.log, 3)).toEqual([0, 1, 1]);
  });

  it("gives back the page that answers after the pass gave up on it", async () => {
    const fixture = recoveryFixture();
    const { instanceId, workflowKey } = fixture.interrupted({ attempts: 1 });
    const answer = deferred();
    // The store runs the claim in time; its answer comes only after the pass gave up on it.
    firstClaim(fixture, (claim) => {
      const page = claim();
      return answer.promise.then(() => page);
    });
    const error = await rejectionOf(fixture.coordinator({ leaseTtlMs }).resumeAll());
    expect(error).toMatchObject({ call: "claim" });
    answer.resolve();
    // The late page is given back: its lease gone, its attempt not counted.
    while (fixture.stored(instanceId)?.revision === 1 || fixture.stored(instanceId)?.leaseExpiresAt !== undefined) await sleep(5);
    expect(fixture.stored(instanceId)).toMatchObject({ attempts: 1, revision: 3 });
    expect(isHeldHere({ foundryExecutionId: instanceId, workflowId: workflowKey })).toBe(false);
    expect(runCounts(fixture.log, 3)).toEqual([0, 0, 0]);
  });
});

describe("the list path on a store whose mailbox read never answers", () => {
  it("fails the waiting instance whose read hangs within the lease, and runs the others", async () => {
    const fixture = recoveryFixture({ listOnly: true });
    const waiting = fixture.interrupted({ status: "waiting", waitingFor: "approved" });
    const running = fixture.interrupted();
    fixture.provider.receive = never;
    const report = await fixture.coordinator({ leaseTtlMs: 1_000 }).resumeAll();
    expect(report.failed).toMatchObject([{ instanceId: waiting.instanceId, error: { call: "receive", message: expect.stringContaining("did not answer within the lease (1000 ms)") } }]);
    expect(report.failed[0]?.error).toBeInstanceOf(PersistenceError);
    expect(report.resumed).toMatchObject([{ instanceId: running.instanceId }]);
    expect(fixture.stored(waiting.instanceId)).toMatchObject({ status: "waiting", revision: 1 });
  });
});
