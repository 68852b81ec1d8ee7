import { describe, it, expect } from "vitest";
import { createFoundry, createSmith, createWorkflow, errorHandlingMiddleware, type Foundry, type OperationMiddleware } from "../../src/index.js";
import { MemoryPersistenceProvider, usePersistence, type PersistenceOptions, type WorkflowExecutionSnapshot } from "../../src/persistence/index.js";
import { deferred } from "../support/promises.js";
import { countedFoundry, opNames } from "../support/counted-workflow.js";
import { RecordingProvider } from "../support/recording-provider.js";
import { snapshotFor, uniqueKeys } from "../support/run-snapshots.js";

describe("completion", () => {
  it("deletes the snapshot after the last operation by default", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const { foundry } = countedFoundry(3);
    const deleted: unknown[] = [];
    foundry.on("snapshotDeleted", (event) => deleted.push(event));
    usePersistence(foundry, provider, keys);
    await foundry.forge();
    expect(provider.count("delete")).toBe(1);
    expect(provider.calls.at(-1)).toMatchObject({ call: "delete", foundryExecutionId: keys.instanceId, workflowId: keys.workflowKey });
    expect(provider.stored(keys)).toBeUndefined();
    expect(deleted).toEqual([{ foundryExecutionId: keys.instanceId, workflowId: keys.workflowKey }]);
  });

  it('with onComplete "keep" stores status completed with the last save: N saves and no delete', async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const { foundry } = countedFoundry(3, { properties: { orderId: "A-1" } });
    usePersistence(foundry, provider, { ...keys, onComplete: "keep" });
    await expect(foundry.forge()).resolves.toBe("out-2");
    expect(provider.count("save")).toBe(3);
    expect(provider.count("delete")).toBe(0);
    expect(provider.saves.map((snapshot) => snapshot.status)).toEqual(["running", "running", "completed"]);
    const stored = provider.stored(keys);
    expect(stored).toEqual(provider.saves[2]);
    expect(stored).toMatchObject({ status: "completed", nextOperationIndex: 3, operationCount: 3, lastOutput: "out-2", properties: { orderId: "A-1" } });
  });

  it("starts a later run with the same keys fresh after a kept completed snapshot", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const first = countedFoundry(3);
    usePersistence(first.foundry, provider, { ...keys, onComplete: "keep" });
    await first.foundry.forge();

    const second = countedFoundry(3);
    usePersistence(second.foundry, provider, { ...keys, onComplete: "keep" });
    await second.foundry.forge();
    expect(second.log.runs).toEqual([1, 1, 1]);
  });

  it("starts fresh after a completed snapshot even if the definition changed, continuing the stored revision", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    provider.seed(snapshotFor(keys, ["old-a", "old-b"], { status: "completed", nextOperationIndex: 2, revision: 5, properties: { stale: true } }));
    const { foundry, log } = countedFoundry(4);
    usePersistence(foundry, provider, keys);
    await expect(foundry.forge()).resolves.toBe("out-3");
    expect(log.runs).toEqual([1, 1, 1, 1]);
    expect(foundry.properties).toEqual({});
    expect(provider.saves[0]).toMatchObject({ revision: 6, nextOperationIndex: 1, status: "running", properties: {} });
    expect(provider.saves.map((snapshot) => snapshot.revision)).toEqual([6, 7, 8, 9]);
  });

  it("lets compare-and-set accept every save of a run that follows a kept completed snapshot", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    for (let run = 0; run < 3; run++) {
      const { foundry } = countedFoundry(2);
      usePersistence(foundry, provider, { ...keys, onComplete: "keep" });
      await foundry.forge();
    }
    expect(provider.tryLoad(keys.instanceId, keys.workflowKey)).toMatchObject({ status: "completed", revision: 6 });
  });

  it("deletes a stored snapshot whose progress already covers every operation without running any", async () => {
    // What a crash between the last checkpoint and the delete leaves behind.
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    provider.seed(snapshotFor(keys, opNames(3), { nextOperationIndex: 3, lastOutput: "out-2", revision: 3 }));
    const { foundry, log } = countedFoundry(3);
    usePersistence(foundry, provider, keys);
    await expect(foundry.forge()).resolves.toBe("out-2");
    expect(log.runs).toEqual([]);
    expect(provider.stored(keys)).toBeUndefined();
  });
});

// The foundry's operations as a workflow, for a smith (which compensates).
function workflowOf(foundry: Foundry<any>) {
  return foundry.operations.reduce((workflow, operation) => workflow.addOperation(operation), createWorkflow("Pay")).build();
}

describe("completion decided by a layer outside persistence", () => {
  // The layer is added before usePersistence, so it wraps it: persistence sees the operation fail, or not run at all.
  function flaky(layer: OperationMiddleware, options: PersistenceOptions) {
    const provider = new MemoryPersistenceProvider();
    const runs: string[] = [];
    const foundry = () => {
      const made = createFoundry("Flaky", { properties: { orderId: "A-1" } }).use(layer);
      return usePersistence(made, provider, options)
        .withOperation("reserve", () => runs.push("reserve"))
        .withOperation("notify", () => {
          runs.push("notify");
          throw new Error("mail server down");
        });
    };
    const stored = () => provider.tryLoad(String(options.instanceId), String(options.workflowKey));
    return { foundry, runs, stored };
  }
  const recovering = errorHandlingMiddleware(() => "notified later");
  const cached: OperationMiddleware = (context, next) => (context.operation.name === "notify" ? Promise.resolve("from cache") : next());

  it("deletes the record of a run whose last operation's error a layer turned into its output, and a later run starts fresh", async () => {
    const { foundry, runs, stored } = flaky(recovering, uniqueKeys());
    await expect(foundry().forge()).resolves.toBe("notified later");
    expect(stored()).toBeUndefined();
    await foundry().forge();
    expect(runs).toEqual(["reserve", "notify", "reserve", "notify"]);
  });

  it('keeps it completed, with the run\'s output and no error, under onComplete "keep"', async () => {
    const { foundry, stored } = flaky(recovering, { ...uniqueKeys(), onComplete: "keep" });
    await foundry().forge();
    const record = stored();
    expect(record).toMatchObject({ status: "completed", nextOperationIndex: 2, lastOutput: "notified later", properties: { orderId: "A-1" } });
    expect(record?.error).toBeUndefined();
  });

  it("deletes the record of a run whose last operation a layer answered without calling next()", async () => {
    const { foundry, runs, stored } = flaky(cached, uniqueKeys());
    await expect(foundry().forge()).resolves.toBe("from cache");
    expect([runs, stored()]).toEqual([["reserve"], undefined]);
  });

  it("finishes it under a lease too, through the claim", async () => {
    const { foundry, stored } = flaky(recovering, { ...uniqueKeys(), lease: { ttlMs: 60_000 } });
    await foundry().forge();
    expect(stored()).toBeUndefined();
  });

  it("leaves the record alone when a write of the run was refused: another owner's now, whatever a catch-all layer made of that", async () => {
    for (const lease of [undefined, { ttlMs: 60_000 }]) {
      const provider = new MemoryPersistenceProvider();
      const keys = uniqueKeys();
      const catchAll: OperationMiddleware = (_context, next) => next().catch(() => "fallback");
      const foundry = usePersistence(createFoundry("Taken").use(catchAll), provider, { ...keys, ...(lease === undefined ? {} : { lease }) })
        .withOperation("reserve", () => "R")
        .withOperation("notify", () => {
          // Another process takes the instance over while this operation runs; then it fails.
          const stored = provider.tryLoad(keys.instanceId, keys.workflowKey)!;
          provider.save({ ...stored, revision: stored.revision + 1, owner: "worker-B" });
          throw new Error("mail server down");
        });
      await expect(foundry.forge()).resolves.toBe("fallback");
      expect(provider.tryLoad(keys.instanceId, keys.workflowKey), `lease ${String(lease?.ttlMs)}`).toMatchObject({ owner: "worker-B", status: "running" });
    }
  });

  it("lets a lease renewal in flight land before it checks that the record is its own, and then finishes it", async () => {
    const store = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    const renewing = deferred();
    const acknowledge = deferred();
    let answering = false;
    // Stores each save at once; a renewal (a save while the last operation is being answered) is acknowledged only when released.
    const provider = {
      capabilities: { compareAndSet: true },
      save: async (snapshot: WorkflowExecutionSnapshot) => {
        store.save(snapshot);
        if (!answering) return;
        renewing.resolve();
        await acknowledge.promise;
      },
      tryLoad: (instanceId: string, workflowKey: string) => store.tryLoad(instanceId, workflowKey),
      delete: (instanceId: string, workflowKey: string) => store.delete(instanceId, workflowKey),
    };
    const cache: OperationMiddleware = async (context, next) => {
      if (context.operation.name !== "notify") return next();
      answering = true;
      await renewing.promise;
      // The renewal is stored, its acknowledgement still on its way when the run resolves.
      setImmediate(() => acknowledge.resolve());
      return "from cache";
    };
    const foundry = usePersistence(createFoundry("Renewed").use(cache), provider, { ...keys, lease: { ttlMs: 1_500 } })
      .withOperation("reserve", () => "R")
      .withOperation("notify", () => "N");
    await expect(foundry.forge()).resolves.toBe("from cache");
    expect(store.tryLoad(keys.instanceId, keys.workflowKey)).toBeUndefined();
  });

  it("leaves the record of a run that rejected as it was: failed, to be retried", async () => {
    const { foundry, stored } = flaky((_context, next) => next(), uniqueKeys());
    await expect(foundry().forge()).rejects.toThrow("mail server down");
    expect(stored()).toMatchObject({ status: "failed", nextOperationIndex: 1 });
  });

  it("stores what the restore of an operation the layer answered for receives: a compensation after a resume undoes it as one in the same process would", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys("recovered-restore");
    const undone: string[] = [];
    const ship = deferred<void>();
    const foundry = () =>
      usePersistence(createFoundry("Pay").use(errorHandlingMiddleware((error, context) => {
        if (context.operation.name === "charge") return "charge-fallback";
        throw error;
      })), provider, keys)
        .withOperation("reserve", () => "R-1", (reservation) => void undone.push(`release ${String(reservation)}`))
        .withOperation("charge", () => { throw new Error("gateway 502"); }, (charge) => void undone.push(`refund ${String(charge)}`))
        .withOperation("label", (charge: string) => `label for ${charge}`)
        .withOperation("ship", async () => {
          await ship.promise;
          throw new Error("no courier");
        });
    const controller = new AbortController();
    const first = createSmith().forge(workflowOf(foundry()), foundry(), { signal: controller.signal }).catch((error: unknown) => error);
    await expect.poll(() => provider.tryLoad(keys.instanceId, keys.workflowKey)?.nextOperationIndex).toBe(3);
    // The process dies in ship: the record is where its last checkpoint left it.
    controller.abort();
    ship.resolve();
    await first;
    expect(provider.tryLoad(keys.instanceId, keys.workflowKey)?.outputs).toEqual({ 0: "R-1", 1: "charge-fallback" });
    // Resumed at ship, which fails: the smith compensates what the earlier run completed.
    expect(await createSmith().forge(workflowOf(foundry()), foundry()).catch((error: unknown) => (error as Error).name)).toBe("OperationFailedError");
    expect(undone).toEqual(["refund charge-fallback", "release R-1"]);
  });
});

describe("a middleware that changes outputs", () => {
  const wrapped: OperationMiddleware = async (_context, next) => ({ ok: true, value: await next() });
  // Crash after "reserve" checkpointed: "charge" throws once, and a second foundry resumes.
  async function chargeSees(order: "before" | "after"): Promise<unknown[]> {
    const provider = new MemoryPersistenceProvider();
    const seen: unknown[] = [];
    let crashes = 1;
    const foundry = () => {
      const made = createFoundry("Wrapped", { executionId: "order-7" });
      if (order === "before") made.use(wrapped);
      usePersistence(made, provider);
      if (order === "after") made.use(wrapped);
      return made
        .withOperation("reserve", () => "R-1")
        .withOperation("charge", (input) => {
          seen.push(input);
          if (crashes-- > 0) throw new Error("crashed");
          return "paid";
        });
    };
    await foundry().forge().catch(() => undefined);
    await foundry().forge();
    return seen;
  }

  it("added after usePersistence, is stored: a resumed operation gets what the first run's did", async () => {
    expect(await chargeSees("after")).toEqual([{ ok: true, value: "R-1" }, { ok: true, value: "R-1" }]);
  });

  it("added before usePersistence, is not: the resumed operation gets the output unchanged (README, usePersistence)", async () => {
    expect(await chargeSees("before")).toEqual([{ ok: true, value: "R-1" }, "R-1"]);
  });
});
