import { describe, it, expect, vi } from "vitest";
import { createFoundry } from "../../src/index.js";
import { MemoryPersistenceProvider, SnapshotConflictError, usePersistence, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { deferred, settledWithin, sleep, untilAborted } from "../support/promises.js";
import { isHeldHere } from "../../src/persistence/held-here.js";
import { rejectionOf } from "../support/promises.js";
import { RecordingProvider } from "../support/recording-provider.js";
import { uniqueKeys } from "../support/run-snapshots.js";

// Long enough that a busy machine's stalls stay well inside one TTL; the waits below are multiples of it.
const ttlMs = 300;

/** A foundry whose second operation waits for `release` (or its signal) after changing the properties. */
function longSecondStep(release: Promise<void>) {
  const ran: string[] = [];
  const foundry = createFoundry<{ count: number; nested: { touched: boolean } }>("Leased", { properties: { count: 0, nested: { touched: false } } });
  foundry
    .withOperation("first", (_input, f) => {
      ran.push("first");
      f.properties.count = 1;
    })
    .withOperation("long", async (_input, f, signal) => {
      ran.push("long");
      f.properties.count = 2;
      f.properties.nested.touched = true;
      await Promise.race([release, untilAborted(signal)]);
    })
    .withOperation("last", () => {
      ran.push("last");
    });
  return { foundry, ran };
}

describe("lease renewal by time", () => {
  it("renews the claim while a long operation runs, storing the last checkpoint's state", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const release = deferred();
    const { foundry, ran } = longSecondStep(release.promise);
    usePersistence(foundry, provider, { ...keys, owner: "worker-1", onComplete: "keep", lease: { ttlMs } });
    const run = foundry.forge();
    // Two renewals after the first checkpoint (saves 3 and 4), however slowly the machine runs.
    while (provider.count("save") < 4) await sleep(10);
    const readAt = Date.now();
    const during = provider.inner.tryLoad(keys.instanceId, keys.workflowKey);
    release.resolve();
    await run;

    expect(ran).toEqual(["first", "long", "last"]);
    expect(during?.nextOperationIndex).toBe(1);
    expect(Date.parse(during?.leaseExpiresAt ?? "")).toBeGreaterThan(readAt);
    // The claim, the first checkpoint, at least two renewals, then two more checkpoints.
    const renewals = provider.saves.filter((snapshot) => snapshot.nextOperationIndex === 1).slice(1);
    expect(renewals.length).toBeGreaterThanOrEqual(2);
    for (const renewal of renewals) {
      expect(renewal.properties).toEqual({ count: 1, nested: { touched: false } });
      expect(renewal.owner).toBe("worker-1");
    }
    expect(provider.saves.map((snapshot) => snapshot.revision)).toEqual(provider.saves.map((_, index) => index + 1));
  });

  it("makes no time-based save while checkpoints come faster than a third of the TTL", async () => {
    // On fake clocks, so that a busy machine cannot stretch a step past the renewal interval.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "performance"] });
    try {
      const provider = new RecordingProvider();
      const foundry = createFoundry("Quick");
      // 30 steps of 10 ms: the run lasts longer than a third of the TTL, no step comes close.
      for (let i = 0; i < 30; i++) foundry.withOperation(`step-${i}`, () => sleep(10));
      usePersistence(foundry, provider, { ...uniqueKeys(), lease: { ttlMs: 600 } });
      const run = foundry.forge();
      for (let i = 0; i < 30; i++) await vi.advanceTimersByTimeAsync(10);
      await run;
      expect(performance.now()).toBeGreaterThanOrEqual(300);
      expect(provider.count("save")).toBe(31);
      expect(provider.count("tryLoad")).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("never writes the snapshot back after the run deleted it", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    const foundry = createFoundry("Done").withOperation("only", () => sleep(ttlMs));
    usePersistence(foundry, provider, { ...keys, lease: { ttlMs } });
    await foundry.forge();
    await sleep(ttlMs * 2);
    expect(provider.tryLoad(keys.instanceId, keys.workflowKey)).toBeUndefined();
  });

  it("stops renewing once the run settles, even when it was aborted", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const controller = new AbortController();
    const { foundry } = longSecondStep(new Promise(() => {}));
    usePersistence(foundry, provider, { ...keys, lease: { ttlMs } });
    const run = foundry.forge({ signal: controller.signal });
    await sleep(ttlMs);
    controller.abort();
    expect(await rejectionOf(run)).toMatchObject({ name: "AbortError" });
    const saves = provider.count("save");
    await sleep(ttlMs * 3);
    expect(provider.count("save")).toBe(saves);
  });
});

describe("renewals and saves never overlap", () => {
  it("makes a checkpoint wait for the renewal in flight, so revisions stay in order", async () => {
    const renewalStarted = deferred();
    const provider = new RecordingProvider(undefined, {
      // The first time-based renewal (the third save) is slow to land.
      save: async (_snapshot, attempt) => {
        if (attempt !== 3) return;
        renewalStarted.resolve();
        // Slow, but lands within the lease: a renewal that took a whole TTL would lose it.
        await sleep(ttlMs / 4);
      },
    });
    const foundry = createFoundry("Overlap")
      .withOperation("first", () => undefined)
      // Completes as soon as the renewal is under way: its checkpoint arrives while the renewal is in flight.
      .withOperation("long", () => renewalStarted.promise)
      .withOperation("last", () => undefined);
    usePersistence(foundry, provider, { ...uniqueKeys(), lease: { ttlMs } });
    await foundry.forge();
    expect(provider.saves.map((snapshot) => snapshot.revision)).toEqual([1, 2, 3, 4, 5]);
    expect(provider.saves.map((snapshot) => snapshot.nextOperationIndex)).toEqual([0, 1, 1, 2, 3]);
  });

  it("settles a run only after a renewal in flight landed, and writes nothing after that", async () => {
    const renewing = deferred();
    const landing = deferred();
    const provider = new RecordingProvider(undefined, {
      save: (_snapshot, attempt) => (attempt === 3 ? (renewing.resolve(), landing.promise) : undefined),
    });
    const keys = uniqueKeys();
    // The operation fails while the renewal is in flight; nothing else is saved after it.
    const foundry = createFoundry("EndsDuringRenewal")
      .withOperation("first", () => undefined)
      .withOperation("fails", async () => {
        await renewing.promise;
        throw new Error("boom");
      });
    // A lease long enough that the renewal lands well within it, however late its timer fires.
    usePersistence(foundry, provider, { ...keys, persistOnFailure: false, lease: { ttlMs: ttlMs * 10 } });
    const run = rejectionOf(foundry.forge());
    // The run waits for the renewal.
    expect(await settledWithin(run, 20)).toBe("pending");
    landing.resolve();
    await run;
    const stored = provider.inner.tryLoad(keys.instanceId, keys.workflowKey)?.revision;
    // Longer than a renewal interval of this lease (a third of it, checked every quarter).
    await sleep(ttlMs * 10 * (1 / 3 + 1 / 4) + ttlMs);
    expect(stored).toBe(3);
    expect(provider.inner.tryLoad(keys.instanceId, keys.workflowKey)?.revision).toBe(stored);
  });

  it("settles a run whose renewal in flight never answers once the lease ran out, letting go of the instance", async () => {
    const store = new MemoryPersistenceProvider();
    let renewals = 0;
    const renewing = deferred();
    // Saves that follow the first checkpoint never answer: the first of them is a renewal.
    const provider: WorkflowPersistenceProvider = {
      capabilities: { compareAndSet: true },
      save: (snapshot, signal) => (snapshot.revision > 2 ? (renewals++, renewing.resolve(), new Promise<never>(() => undefined)) : store.save(snapshot, signal)),
      tryLoad: (id, key, signal) => store.tryLoad(id, key, signal),
      delete: (id, key, signal) => store.delete(id, key, signal),
    };
    const keys = uniqueKeys();
    const controller = new AbortController();
    const foundry = createFoundry("HungRenewal")
      .withOperation("first", () => undefined)
      .withOperation("long", (_input, _foundry, signal) => untilAborted(signal));
    usePersistence(foundry, provider, { ...keys, lease: { ttlMs } });
    const run = rejectionOf(foundry.forge({ signal: controller.signal }));
    await renewing.promise;
    // The caller gives up while the renewal hangs: the run ends without a save of its own.
    controller.abort(new Error("caller gave up"));
    await run;
    expect(renewals).toBe(1);
    expect(isHeldHere({ foundryExecutionId: keys.instanceId, workflowId: keys.workflowKey })).toBe(false);
  });

  it("starts no renewal while a slow checkpoint is being saved", async () => {
    // A TTL of its own, long enough that a busy machine cannot stretch the slow save past it (the
    // claim would be lost): 300 ms with a 150 ms save failed once beside other test runs.
    const slowTtlMs = 3_000;
    const provider = new RecordingProvider(undefined, {
      // Slower than the renewal interval (a third of the TTL), within the lease.
      save: (snapshot) => (snapshot.nextOperationIndex === 1 ? sleep(slowTtlMs / 2) : undefined),
    });
    const foundry = createFoundry("SlowCheckpoint")
      .withOperation("first", () => undefined)
      .withOperation("second", () => undefined);
    usePersistence(foundry, provider, { ...uniqueKeys(), lease: { ttlMs: slowTtlMs } });
    await foundry.forge();
    expect(provider.saves.map((snapshot) => [snapshot.nextOperationIndex, snapshot.revision])).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
  });
});

describe("one process, one leased run per instance", () => {
  it("refuses a second leased run of an instance this process is running, before it runs anything", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    const release = deferred();
    const { foundry: first, ran: firstRan } = longSecondStep(release.promise);
    const { foundry: second, ran } = longSecondStep(release.promise);
    usePersistence(first, provider, { ...keys, lease: { ttlMs: 60_000 } });
    usePersistence(second, provider, { ...keys, lease: { ttlMs: 60_000 } });
    const running = first.forge();
    await vi.waitFor(() => expect(firstRan).toContain("long"), { timeout: 10_000 });
    const error = await rejectionOf(second.forge());
    release.resolve();
    await running;
    expect(error).toBeInstanceOf(SnapshotConflictError);
    expect((error as Error).message).toMatch(/another run in this process is running this instance/);
    expect(ran).toEqual([]);
  });

  it("lets the instance run again once the first run settled", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    for (let round = 0; round < 2; round++) {
      const foundry = usePersistence(createFoundry("Again").withOperation("a", () => round), provider, { ...keys, lease: { ttlMs: 60_000 } });
      expect(await foundry.forge()).toBe(round);
    }
  });
});

describe("a run that lost its claim", () => {
  it("stops when its lease ran out because no renewal reached the store", async () => {
    const provider = new RecordingProvider();
    const { foundry, ran } = longSecondStep(new Promise(() => {}));
    usePersistence(foundry, provider, { ...uniqueKeys(), lease: { ttlMs } });
    // After the run's own load, the store does not answer: every renewal fails.
    let loads = 0;
    provider.intercept = { tryLoad: () => (++loads > 1 ? Promise.reject(new Error("connection refused")) : undefined) };
    const error = await rejectionOf(foundry.forge());
    expect(error).toBeInstanceOf(SnapshotConflictError);
    expect((error as Error).message).toMatch(new RegExp(`lease ran out after ${ttlMs} ms`));
    expect(ran).toEqual(["first", "long"]);
  });

  it("reports the conflict, not the operation's error, when recording a failure is refused", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const foundry = createFoundry("FailsLate")
      .withOperation("first", () => undefined)
      .withOperation("second", () => {
        const stored = provider.inner.tryLoad(keys.instanceId, keys.workflowKey);
        if (stored !== undefined) provider.inner.save({ ...stored, owner: "worker-2", revision: stored.revision + 1 });
        throw new Error("boom");
      });
    usePersistence(foundry, provider, { ...keys, owner: "worker-1", lease: { ttlMs: 60_000 } });
    expect(await rejectionOf(foundry.forge())).toBeInstanceOf(SnapshotConflictError);
  });

  it("is aborted by the renewal that finds another owner, rejects with SnapshotConflictError and writes nothing more", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const { foundry, ran } = longSecondStep(new Promise(() => {}));
    usePersistence(foundry, provider, { ...keys, owner: "worker-1", lease: { ttlMs } });
    const run = foundry.forge();
    // The first operation's checkpoint is stored once the second operation runs.
    await vi.waitFor(() => expect(ran).toContain("long"), { timeout: 10_000 });
    // Another worker takes the instance over (as if this one had been paused past its lease).
    const stored = provider.inner.tryLoad(keys.instanceId, keys.workflowKey);
    if (stored === undefined) throw new Error("expected the checkpoint of the first operation");
    provider.inner.save({ ...stored, owner: "worker-2", revision: stored.revision + 1 });
    // The second operation waits on nothing but its signal: only the lost claim can end it.
    const error = await rejectionOf(run);

    expect(error).toBeInstanceOf(SnapshotConflictError);
    expect((error as Error).message).toMatch(/claim was lost.*owner "worker-2"/);
    expect(ran).toEqual(["first", "long"]);
    expect(provider.inner.tryLoad(keys.instanceId, keys.workflowKey)?.owner).toBe("worker-2");
    expect(provider.saves.filter((snapshot) => snapshot.owner === "worker-1").every((snapshot) => snapshot.revision <= stored.revision)).toBe(true);
  });

  it("is refused at its next checkpoint when the operation finished before any renewal noticed", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const takeover = deferred();
    const ran: string[] = [];
    const foundry = createFoundry("Fenced")
      .withOperation("first", () => {
        ran.push("first");
      })
      .withOperation("second", async () => {
        ran.push("second");
        await takeover.promise;
      })
      .withOperation("third", () => {
        ran.push("third");
      });
    usePersistence(foundry, provider, { ...keys, owner: "worker-1", lease: { ttlMs: 60_000 } });
    const run = foundry.forge();
    await vi.waitFor(() => expect(ran).toContain("second"), { timeout: 10_000 });
    const stored = provider.inner.tryLoad(keys.instanceId, keys.workflowKey);
    if (stored === undefined) throw new Error("expected the checkpoint of the first operation");
    provider.inner.save({ ...stored, owner: "worker-2", revision: stored.revision + 1 });
    takeover.resolve();

    expect(await rejectionOf(run)).toBeInstanceOf(SnapshotConflictError);
    expect(ran).toEqual(["first", "second"]);
  });
});

describe("lease options", () => {
  it("refuses a lease on a provider without compare-and-set, which could not fence anyone out", () => {
    const memory = new MemoryPersistenceProvider();
    const provider: WorkflowPersistenceProvider = {
      save: (snapshot) => memory.save(snapshot),
      tryLoad: (instance, workflow) => memory.tryLoad(instance, workflow),
      delete: (instance, workflow) => memory.delete(instance, workflow),
    };
    expect(() => usePersistence(createFoundry("NoCas"), provider, { lease: { ttlMs: 1_000 } })).toThrow(/lease needs a provider that declares capabilities.compareAndSet/);
  });

  it("keeps attempts out of the snapshots of ordinary runs", async () => {
    const provider = new RecordingProvider();
    const foundry = createFoundry("Plain").withOperation("a", () => 1);
    usePersistence(foundry, provider, { ...uniqueKeys(), onComplete: "keep", lease: { ttlMs: 1_000 } });
    await foundry.forge();
    expect(provider.saves.every((snapshot) => !("attempts" in snapshot))).toBe(true);
  });
});
