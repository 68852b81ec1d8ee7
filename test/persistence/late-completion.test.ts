import { afterEach, describe, expect, it, vi } from "vitest";
import { createFoundry, createSmith, createWorkflow, errorHandlingMiddleware, isSuspended, OperationTimeoutError, sleep, timeoutMiddleware, waitForEvent, type OperationMiddleware } from "../../src/index.js";
import { createRecoveryCoordinator, MemoryPersistenceProvider, usePersistence, type WorkflowExecutionSnapshot, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { deferred, rejectionOf } from "../support/promises.js";
import { RecordingProvider } from "../support/recording-provider.js";

// An operation that ignores its signal may finish after a timeout gave up on it. The run has gone
// on without it by then (failed, compensated, its record deleted): what it returns is written
// nowhere, or a record would come back, or move past an operation the run never finished.

/** Drains the microtask queue: the memory provider stores synchronously, so a late save would have run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function order(release: Promise<void>, restored: string[]) {
  return createWorkflow("order")
    .withOperation("reserve", () => "reserved", () => void restored.push("reserve"))
    .withOperation(
      "charge",
      async (_input, foundry) => {
        await release; // ignores its signal
        foundry.properties.paid = true;
        return "charged late";
      },
      () => void restored.push("charge"),
    )
    .withOperation("ship", () => "shipped")
    .build();
}

describe("an operation that completes after a timeout gave up on it", () => {
  it("under a smith: the compensated run's record stays deleted", async () => {
    const provider = new MemoryPersistenceProvider();
    const release = deferred();
    const restored: string[] = [];
    const workflow = order(release.promise, restored);
    const foundry = usePersistence(createFoundry("orders").use(timeoutMiddleware(20)), provider, { instanceId: "o-1" });

    expect(await rejectionOf(createSmith().forge(workflow, foundry))).toBeInstanceOf(OperationTimeoutError);
    expect(restored).toEqual(["reserve"]);
    expect(provider.tryLoad("o-1", workflow.id)).toBeUndefined();

    release.resolve();
    await settle();
    expect(provider.tryLoad("o-1", workflow.id)).toBeUndefined();
  });

  it("on a bare foundry: the record stays at the last checkpoint, so the next run does the operation again", async () => {
    const provider = new MemoryPersistenceProvider();
    const release = deferred();
    const workflow = order(release.promise, []);
    const foundry = usePersistence(createFoundry("orders").use(timeoutMiddleware(20)), provider, { instanceId: "o-2" });
    for (const operation of workflow.operations) foundry.addOperation(operation);

    expect(await rejectionOf(foundry.forge())).toBeInstanceOf(OperationTimeoutError);
    const before = provider.tryLoad("o-2", "orders");
    expect(before).toMatchObject({ nextOperationIndex: 1 });

    release.resolve();
    await settle();
    expect(provider.tryLoad("o-2", "orders")).toEqual(before);
  });
});

// A timeout layer added before usePersistence wraps the checkpoint too: it may give up on a save
// still in flight. The run settles only once that save has landed, and asks for no write after:
// a save landing after a retry completed the instance and deleted its record would bring the
// instance back, and run its operations again.
describe("a checkpoint a timeout gave up on", () => {
  afterEach(() => void vi.useRealTimers());

  function slowFirstWrite(call: "save" | "delete") {
    const release = deferred();
    const provider = new RecordingProvider(undefined, { [call]: () => (provider.count(call) === 1 ? release.promise : undefined) });
    return { provider, release };
  }

  function threeSteps(provider: RecordingProvider, ran: string[]) {
    const foundry = createFoundry("orders").use(timeoutMiddleware(20));
    for (const name of ["reserve", "charge", "ship"]) foundry.withOperation(name, () => void ran.push(name));
    return usePersistence(foundry, provider, { instanceId: "o-3" });
  }

  // forge() of threeSteps with its first `call` held, once the timeout gave up on it: still pending.
  async function heldPastTimeout(call: "save" | "delete") {
    vi.useFakeTimers();
    const { provider, release } = slowFirstWrite(call);
    const ran: string[] = [];
    const foundry = threeSteps(provider, ran);
    let settled = false;
    const first = rejectionOf(foundry.forge()).finally(() => (settled = true));
    await vi.advanceTimersByTimeAsync(20);
    expect(settled).toBe(false);
    expect(foundry.isRunning).toBe(true);
    return { provider, release, ran, foundry, first };
  }

  it("lands before forge() settles, so a retry resumes after it and a completed instance stays completed", async () => {
    const { provider, release, ran, foundry, first } = await heldPastTimeout("save"); // reserve's checkpoint

    release.resolve();
    expect(await first).toBeInstanceOf(OperationTimeoutError);
    expect(provider.inner.tryLoad("o-3", "orders")).toMatchObject({ revision: 1, nextOperationIndex: 1 });

    await foundry.forge();
    await vi.runAllTimersAsync();
    expect(provider.inner.tryLoad("o-3", "orders")).toBeUndefined();
    expect(ran).toEqual(["reserve", "charge", "ship"]);
  });

  it("asks for nothing after forge() settled: the delete chained to the last checkpoint is never sent", async () => {
    vi.useFakeTimers();
    const { provider, release } = slowFirstWrite("save");
    const foundry = usePersistence(createFoundry("orders").use(timeoutMiddleware(20)).withOperation("only", () => "done"), provider, { instanceId: "o-4" });
    const first = rejectionOf(foundry.forge());
    await vi.advanceTimersByTimeAsync(20);
    release.resolve();
    expect(await first).toBeInstanceOf(OperationTimeoutError);
    await vi.runAllTimersAsync(); // drains the microtask queue too: a delete asked for late would be sent by now

    expect(provider.count("delete")).toBe(0);
    expect(provider.inner.tryLoad("o-4", "orders")).toMatchObject({ revision: 1, nextOperationIndex: 1 });
    expect(await foundry.forge()).toBe("done"); // nothing left to run: the retry only deletes
    expect(provider.inner.tryLoad("o-4", "orders")).toBeUndefined();
  });

  it("under a smith: the compensation writes after the late checkpoint has landed, so the undone instance stays deleted", async () => {
    vi.useFakeTimers();
    const { provider, release } = slowFirstWrite("save");
    const ran: string[] = [];
    const restored: string[] = [];
    const workflow = createWorkflow("order");
    for (const name of ["reserve", "charge", "ship"]) workflow.withOperation(name, () => void ran.push(name), () => void restored.push(name));
    const forge = () => createSmith().forge(workflow.build(), usePersistence(createFoundry("orders").use(timeoutMiddleware(20)), provider, { instanceId: "o-5" }));
    const first = rejectionOf(forge());
    await vi.advanceTimersByTimeAsync(20); // the timeout gave up on reserve's checkpoint; the smith compensates
    release.resolve();
    expect(await first).toBeInstanceOf(OperationTimeoutError);
    await vi.runAllTimersAsync();

    expect(restored).toEqual(["reserve"]);
    expect(provider.inner.tryLoad("o-5", "order")).toBeUndefined();
    expect(provider.saves.map((snapshot) => [snapshot.revision, snapshot.status])).toEqual([[1, "running"], [2, "compensating"], [3, "compensating"]]);
    await forge(); // starts over: the undone reserve runs again, and nothing runs on after it
    expect(ran).toEqual(["reserve", "reserve", "charge", "ship"]);
  });

  it("under a smith: the delete chained to a last checkpoint a timeout gave up on is never sent beside the compensation's writes", async () => {
    vi.useFakeTimers();
    const release = deferred();
    const provider: RecordingProvider = new RecordingProvider(undefined, { save: (): Promise<void> | undefined => (provider.count("save") === 3 ? release.promise : undefined) });
    const restored: string[] = [];
    const workflow = createWorkflow("order");
    for (const name of ["reserve", "charge", "ship"]) workflow.withOperation(name, () => name, () => void restored.push(name));
    const first = rejectionOf(createSmith().forge(workflow.build(), usePersistence(createFoundry("orders").use(timeoutMiddleware(20)), provider, { instanceId: "o-6" })));
    await vi.advanceTimersByTimeAsync(20); // the timeout gave up on ship's checkpoint, the last
    release.resolve();
    expect(await first).toBeInstanceOf(OperationTimeoutError);
    await vi.runAllTimersAsync();

    expect(restored).toEqual(["ship", "charge", "reserve"]); // ship completed: the timeout threw after it
    expect(provider.calls.filter((call) => call.call !== "tryLoad").map((call) => (call.call === "save" ? `${call.snapshot.revision} ${call.snapshot.status}` : call.call))).toEqual([
      "1 running", "2 running", "3 running", "4 compensating", "5 compensating", "6 compensating", "7 compensating", "delete",
    ]);
    expect(provider.inner.tryLoad("o-6", "order")).toBeUndefined();
  });

  it("a run that recovers from a timeout on its last step's checkpoint still deletes its record once that lands", async () => {
    vi.useFakeTimers();
    const release = deferred();
    const provider: RecordingProvider = new RecordingProvider(undefined, { save: (): Promise<void> | undefined => (provider.count("save") === 3 ? release.promise : undefined) });
    const ran: string[] = [];
    const foundry = createFoundry("orders").use(errorHandlingMiddleware(() => "recovered")).use(timeoutMiddleware(20));
    for (const name of ["reserve", "charge", "ship"]) foundry.withOperation(name, () => void ran.push(name));
    const run = usePersistence(foundry, provider, { instanceId: "o-8" }).forge();
    await vi.advanceTimersByTimeAsync(20); // the timeout gave up on ship's checkpoint, and the error handler recovered
    release.resolve();

    expect(await run).toBe("recovered");
    expect(provider.count("delete")).toBe(1);
    expect(provider.inner.tryLoad("o-8", "orders")).toBeUndefined();
    expect(ran).toEqual(["reserve", "charge", "ship"]);
  });

  it("under a smith: a failure record still loading when the timeout gives up lands before the compensation writes", async () => {
    vi.useFakeTimers();
    const loading = deferred();
    let loads = 0;
    const provider = new RecordingProvider(undefined, { tryLoad: () => (++loads === 2 ? loading.promise : undefined) });
    const restored: string[] = [];
    const workflow = createWorkflow("order")
      .withOperation("reserve", () => "reserved", () => void restored.push("reserve"))
      .withOperation("charge", () => Promise.reject(new Error("card declined")), () => void restored.push("charge"))
      .withOperation("ship", () => "shipped")
      .build();
    const first = rejectionOf(createSmith().forge(workflow, usePersistence(createFoundry("orders").use(timeoutMiddleware(20)), provider, { instanceId: "o-7" })));
    await vi.advanceTimersByTimeAsync(20); // the failure record of charge reads the last checkpoint; the timeout gives up
    loading.resolve();
    expect(await first).toBeInstanceOf(OperationTimeoutError);
    await vi.runAllTimersAsync();

    expect(restored).toEqual(["reserve"]);
    expect(provider.saves.map((snapshot) => `${snapshot.revision} ${snapshot.status}`)).toEqual(["1 running", "2 failed", "3 compensating", "4 compensating"]);
    expect(provider.inner.tryLoad("o-7", "order")).toBeUndefined();
  });

  it("under a smith and a lease: a checkpoint still waiting for a renewal when the timeout gives up is never sent, and the compensation writes after the renewal", async () => {
    vi.useFakeTimers();
    const [renewal, reserved] = [deferred(), deferred()];
    const provider: RecordingProvider = new RecordingProvider(undefined, { save: (snapshot): Promise<void> | undefined => (snapshot.revision === 2 ? renewal.promise : undefined) });
    const restored: string[] = [];
    const workflow = createWorkflow("order")
      .withOperation("reserve", () => reserved.promise.then(() => "reserved"), () => void restored.push("reserve"))
      .withOperation("charge", () => "charged", () => void restored.push("charge"))
      .build();
    const foundry = usePersistence(createFoundry("orders").use(timeoutMiddleware(2_500)), provider, { instanceId: "o-9", lease: { ttlMs: 3_000 }, owner: "w1" });
    const startedAt = Date.now();
    const first = rejectionOf(createSmith().forge(workflow, foundry));
    for (let waited = 0; provider.count("save") < 2 && waited < 2_000; waited += 100) await vi.advanceTimersByTimeAsync(100);
    expect(provider.count("save")).toBe(2); // the renewal is being written
    reserved.resolve(); // reserve's checkpoint waits for the renewal
    await vi.advanceTimersByTimeAsync(2_500 - Date.now() + startedAt); // the timeout gives up on it; the smith compensates
    renewal.resolve();
    expect(await first).toBeInstanceOf(OperationTimeoutError);
    await vi.runAllTimersAsync();

    expect(restored).toEqual(["reserve"]);
    expect(provider.saves.map((snapshot) => `${snapshot.revision} ${snapshot.status} ${snapshot.nextOperationIndex}`)).toEqual([
      "1 running 0", "2 running 0", "3 compensating 1", "4 compensating 0",
    ]);
    expect(provider.inner.tryLoad("o-9", "order")).toBeUndefined();
  });

  it("a final delete a timeout gave up on lands before forge() settles", async () => {
    const { provider, release, ran, first } = await heldPastTimeout("delete");

    release.resolve();
    expect(await first).toBeInstanceOf(OperationTimeoutError);
    expect(provider.inner.tryLoad("o-3", "orders")).toBeUndefined();
    expect(ran).toEqual(["reserve", "charge", "ship"]);
  });
});

// A layer that recovers from timeouts lets the run go on past an operation given up on. A write
// that operation asked for, still waiting for the writes before it, is then not the run's either:
// a suspension stored after the run moved on would hand a running instance to the coordinators.

// A layer that goes on past an operation a timeout gave up on, as if it had returned undefined.
const recoversFromTimeouts: OperationMiddleware = async (context, next) => {
  try {
    return await next(context);
  } catch (error) {
    if (error instanceof OperationTimeoutError) return undefined;
    throw error;
  }
};

describe("a write whose operation was given up on while it waited for its turn", () => {
  afterEach(() => void vi.useRealTimers());

  // reserve's checkpoint is held; the wait after it suspends behind that checkpoint, is given up on, and the run goes on to ship.
  async function suspensionGivenUp(options: { lease?: { ttlMs: number }; owner?: string } = {}) {
    vi.useFakeTimers();
    const release = deferred();
    const provider: RecordingProvider = new RecordingProvider(undefined, { save: (): Promise<void> | undefined => (provider.count("save") === (options.lease === undefined ? 1 : 2) ? release.promise : undefined) });
    const ran: string[] = [];
    const foundry = createFoundry("orders").use(recoversFromTimeouts).use(timeoutMiddleware(100));
    foundry.withOperation("reserve", () => void ran.push("reserve")).addOperation(sleep("cool off", 3_600_000));
    foundry.withOperation("ship", () => void ran.push("ship"));
    const run = usePersistence(foundry, provider, { instanceId: "o-11", ...options }).forge();
    await vi.advanceTimersByTimeAsync(250); // reserve's checkpoint, then the wait's suspension, given up on
    // ship waits to know whether the suspension lands, and starts once it was refused (before its own timeout).
    expect(ran).toEqual(["reserve"]);
    release.resolve();
    await run;
    await vi.runAllTimersAsync();
    expect(ran).toEqual(["reserve", "ship"]);
    return provider;
  }

  it("a suspension is never stored: the run that went on completes, and its record is deleted", async () => {
    const provider = await suspensionGivenUp();

    expect(provider.saves.map((snapshot) => `${snapshot.revision} ${snapshot.status} ${snapshot.nextOperationIndex}`)).toEqual(["1 running 1", "2 running 3"]);
    expect(provider.inner.tryLoad("o-11", "orders")).toBeUndefined();
  });

  it("under a lease: the run keeps its claim, renewed, and no save gives it back", async () => {
    const provider = await suspensionGivenUp({ lease: { ttlMs: 3_000 }, owner: "w1" });

    expect(provider.saves.filter((snapshot) => snapshot.status === "waiting" || snapshot.leaseExpiresAt === undefined)).toEqual([]);
    expect(provider.inner.tryLoad("o-11", "orders")).toBeUndefined();
  });
});

describe("a suspension refused under a coordinator, its wait given up on while it waited for its turn", () => {
  it("leaves the attempt counted and the lease on every checkpoint after it, and the instance resumes once", async () => {
    const [held, waitGivenUp] = [deferred(), deferred()];
    const saves: WorkflowExecutionSnapshot[] = [];
    const provider = new MemoryPersistenceProvider();
    const save = provider.save.bind(provider);
    (provider as WorkflowPersistenceProvider).save = (snapshot, signal) => {
      saves.push(structuredClone(snapshot));
      // reserve's checkpoint is held until the wait behind it was given up on
      if (snapshot.nextOperationIndex !== 1 || snapshot.leaseExpiresAt === undefined) return save(snapshot, signal);
      return held.promise.then(() => save(snapshot, signal));
    };
    const ran: string[] = [];
    const workflow = createWorkflow("orders")
      .withOperation("reserve", () => void ran.push("reserve"))
      .addOperation(sleep("cool off", 3_600_000))
      .withOperation("ship", () => void ran.push("ship"))
      .build();
    const recovers: OperationMiddleware = async (context, next) =>
      next(context).catch((error: unknown) => {
        if (!(error instanceof OperationTimeoutError)) throw error;
        if (context.operation.name === "cool off") waitGivenUp.resolve();
        return undefined;
      });
    const coordinator = createRecoveryCoordinator({
      provider,
      owner: "w1",
      leaseTtlMs: 3_000,
      resolveWorkflow: () => workflow,
      createFoundry: (snapshot) => createFoundry(snapshot.workflowName, { executionId: snapshot.foundryExecutionId }).use(recovers).use(timeoutMiddleware(100)),
    });
    await coordinator.enqueue(workflow, { instanceId: "o-13" });
    const pass = coordinator.resumeAll();
    await waitGivenUp.promise;
    held.resolve();
    const report = await pass;

    expect(report.resumed).toEqual([expect.objectContaining({ instanceId: "o-13", attempts: 1 })]);
    expect(ran).toEqual(["reserve", "ship"]);
    const afterClaim = saves.filter((snapshot) => snapshot.owner === "w1");
    expect(afterClaim.map((snapshot) => [snapshot.status, snapshot.attempts, snapshot.leaseExpiresAt !== undefined])).toEqual(afterClaim.map(() => ["running", 1, true]));
    await coordinator.close();
  });
});

// A wait whose suspension landed gave the instance back to the coordinators: a layer that recovers
// the timeout of that wait (given up on while it read the mailbox once more) cannot run on past it.
describe("a run whose suspension landed before a timeout gave its wait up", () => {
  afterEach(() => void vi.useRealTimers());

  class HeldReceive extends MemoryPersistenceProvider {
    readonly held = deferred();
    receives = 0;
    override receive(keys: Parameters<MemoryPersistenceProvider["receive"]>[0], name: string, signal?: AbortSignal): ReturnType<MemoryPersistenceProvider["receive"]> {
      // The read after the waiting save is held, past the wait's timeout.
      return ++this.receives === 2 ? this.held.promise.then(() => super.receive(keys, name, signal)) : super.receive(keys, name, signal);
    }
  }

  /** reserve, a wait for "paid" under a 100 ms timeout that a layer goes on past, then ship: what ran goes into `ran`. */
  function pastTheWait(ran: string[]) {
    const foundry = createFoundry("orders").use(recoversFromTimeouts).use(timeoutMiddleware(100));
    foundry.withOperation("reserve", () => void ran.push("reserve")).addOperation(waitForEvent("await payment", "paid"));
    return foundry.withOperation("ship", () => void ran.push("ship"));
  }

  it.each([false, true])("starts no operation after a waiting save that was still being written when the wait was given up (lease: %s)", async (leased) => {
    vi.useFakeTimers();
    const provider = new MemoryPersistenceProvider();
    const landing = deferred();
    const save = provider.save.bind(provider);
    (provider as WorkflowPersistenceProvider).save = (snapshot, signal) => (snapshot.status === "waiting" ? landing.promise.then(() => save(snapshot, signal)) : save(snapshot, signal));
    const ran: string[] = [];
    const foundry = pastTheWait(ran);
    const run = rejectionOf(usePersistence(foundry, provider, { instanceId: "o-14", ...(leased ? { lease: { ttlMs: 3_000 }, owner: "w1" } : {}) }).forge());
    await vi.advanceTimersByTimeAsync(150); // the wait is given up while its waiting save is on its way
    expect(ran).toEqual(["reserve"]);
    landing.resolve();

    expect(isSuspended(await run)).toBe(true);
    expect(ran).toEqual(["reserve"]);
    expect(provider.tryLoad("o-14", "orders")).toMatchObject({ status: "waiting", nextOperationIndex: 1 });
  });

  it.each(["delete", "keep"] as const)("a run a layer resolved past its last operation's landed suspension leaves the record waiting, the coordinators' to finish (onComplete %s)", async (onComplete) => {
    vi.useFakeTimers();
    const provider = new HeldReceive();
    const recovers: OperationMiddleware = async (context, next) => next(context).catch((error: unknown) => (error instanceof OperationTimeoutError ? "fallback" : Promise.reject(error as Error)));
    const foundry = createFoundry("orders").use(recovers).use(timeoutMiddleware(100));
    foundry.withOperation("reserve", () => "reserved").addOperation(waitForEvent("await payment", "paid"));
    const run = usePersistence(foundry, provider, { instanceId: "o-15", onComplete }).forge();
    await vi.advanceTimersByTimeAsync(150);
    provider.held.resolve();

    expect(await run).toBe("fallback");
    await vi.runAllTimersAsync();
    // Not deleted or completed under a coordinator that may have claimed it meanwhile: the event still wakes it, once.
    expect(provider.tryLoad("o-15", "orders")).toMatchObject({ status: "waiting", waitingFor: "paid", nextOperationIndex: 1 });
  });

  it.each([false, true])("starts no operation after it: the run rejects as suspended, and the record stays waiting (lease: %s)", async (leased) => {
    vi.useFakeTimers();
    const provider = new HeldReceive();
    const ran: string[] = [];
    const foundry = pastTheWait(ran);
    const run = rejectionOf(usePersistence(foundry, provider, { instanceId: "o-12", ...(leased ? { lease: { ttlMs: 3_000 }, owner: "w1" } : {}) }).forge());
    await vi.advanceTimersByTimeAsync(150); // the wait's timeout gives it up during the held read
    provider.held.resolve();

    expect(isSuspended(await run)).toBe(true);
    expect(ran).toEqual(["reserve"]);
    expect(provider.tryLoad("o-12", "orders")).toMatchObject({ status: "waiting", waitingFor: "paid", nextOperationIndex: 1 });
    expect(provider.tryLoad("o-12", "orders")?.leaseExpiresAt).toBeUndefined();
  });
});

describe("a checkpoint whose snapshot cannot be made", () => {
  it("fails the run with what made it fail, and the run settles: the write counted in flight is counted settled", async () => {
    const provider = new RecordingProvider();
    const foundry = usePersistence(createFoundry("orders"), provider, { instanceId: "o-10" }).withOperation("unreadable", (_input, self) => {
      Object.defineProperty(self.properties, "total", { enumerable: true, configurable: true, get: () => { throw new Error("the getter of total"); } });
    });
    await expect(foundry.forge()).rejects.toThrow("the getter of total");
    expect(foundry.isRunning).toBe(false);
    expect(provider.count("save")).toBe(0);
  });
});
