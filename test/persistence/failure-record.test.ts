import { describe, expect, it } from "vitest";
import { createFoundry, sleep } from "../../src/index.js";
import { MemoryPersistenceProvider, usePersistence, type WorkflowExecutionSnapshot } from "../../src/persistence/index.js";
import { rejectionOf } from "../support/promises.js";
import { RecordingProvider } from "../support/recording-provider.js";
import { snapshotFor, uniqueKeys } from "../support/run-snapshots.js";

interface Account {
  balance: number;
  ledger: { entries: string[] };
}

// Operation 0 takes 10 and is checkpointed; operation 1 takes 10 more, then fails on its first run.
function transfer(state: { fail: boolean }, properties: Account) {
  return createFoundry<Account>("Transfer", { properties })
    .withOperation("fee", (_input, foundry) => {
      foundry.properties.balance -= 10;
      foundry.properties.ledger.entries.push("fee");
    })
    .withOperation("payout", (_input, foundry) => {
      foundry.properties.balance -= 10;
      foundry.properties.ledger.entries.push("payout");
      if (state.fail) throw new Error("payout refused");
    });
}

describe("a failed operation is recorded from the last checkpoint", () => {
  it("stores the properties of the last checkpoint, not the failed operation's half-done changes", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    const state = { fail: true };
    const foundry = usePersistence(transfer(state, { balance: 100, ledger: { entries: [] } }), provider, keys);
    await rejectionOf(foundry.forge());
    const stored = provider.tryLoad(keys.instanceId, keys.workflowKey);
    expect(stored).toMatchObject({ status: "failed", nextOperationIndex: 1, properties: { balance: 90, ledger: { entries: ["fee"] } } });
  });

  it("retries from the last checkpoint, as after a crash", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    const state = { fail: true };
    await rejectionOf(usePersistence(transfer(state, { balance: 100, ledger: { entries: [] } }), provider, keys).forge());
    state.fail = false;
    const retry = usePersistence(transfer(state, { balance: 100, ledger: { entries: [] } }), provider, { ...keys, onComplete: "keep" });
    await retry.forge();
    expect(retry.properties).toEqual({ balance: 80, ledger: { entries: ["fee", "payout"] } });
  });

  it("stores the starting properties when the first operation fails before any checkpoint", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    const foundry = createFoundry<Account>("FirstFails", { properties: { balance: 100, ledger: { entries: [] } } }).withOperation("fee", (_input, f) => {
      f.properties.balance -= 10;
      f.properties.ledger.entries.push("fee");
      throw new Error("fee refused");
    });
    usePersistence(foundry, provider, keys);
    await rejectionOf(foundry.forge());
    expect(provider.tryLoad(keys.instanceId, keys.workflowKey)).toMatchObject({ status: "failed", properties: { balance: 100, ledger: { entries: [] } } });
  });
});

describe("a failure of a run that starts over a stored record", () => {
  it("records the failure at the failed operation of the new run, not over the completed record it replaced", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    const options = { ...keys, onComplete: "keep" } as const;
    await usePersistence(transfer({ fail: false }, { balance: 100, ledger: { entries: [] } }), provider, options).forge();
    const rerun = createFoundry<Account>("Transfer", { properties: { balance: 50, ledger: { entries: [] } } }).withOperation("fee", () => {
      throw new Error("fee refused");
    });
    usePersistence(rerun, provider, { ...options, onDefinitionMismatch: "restart" });
    await rejectionOf(rerun.forge());
    expect(provider.tryLoad(keys.instanceId, keys.workflowKey)).toMatchObject({
      status: "failed",
      nextOperationIndex: 0,
      operationCount: 1,
      properties: { balance: 50, ledger: { entries: [] } },
    });
  });
});

describe("a failure record written over an earlier run's record", () => {
  const failing = () =>
    createFoundry("Report").withOperation("render", () => {
      throw new Error("renderer crashed");
    });

  it("names the owner that wrote it", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    await rejectionOf(usePersistence(failing(), provider, { ...keys, owner: "worker-A" }).forge());
    expect(provider.tryLoad(keys.instanceId, keys.workflowKey)?.owner).toBe("worker-A");
    await rejectionOf(usePersistence(failing(), provider, { ...keys, owner: "worker-B" }).forge());
    expect(provider.tryLoad(keys.instanceId, keys.workflowKey)).toMatchObject({ status: "failed", revision: 2, owner: "worker-B" });
  });

  it("keeps no lease of the previous writer when this run holds none", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    const expired = new Date(Date.now() - 60_000).toISOString();
    provider.save({ ...snapshotFor(keys, ["render"], { status: "failed", owner: "worker-A", leaseExpiresAt: expired }), workflowName: "Report" });
    await rejectionOf(usePersistence(failing(), provider, { ...keys, owner: "worker-B" }).forge());
    const stored = provider.tryLoad(keys.instanceId, keys.workflowKey);
    expect(stored).toMatchObject({ status: "failed", revision: 2, owner: "worker-B" });
    expect(stored?.leaseExpiresAt).toBeUndefined();
  });
});

describe("a failure retried successfully", () => {
  it("leaves no error in the waiting record the retry suspends with", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    let fail = true;
    const trial = () =>
      usePersistence(
        createFoundry("Trial")
          .withOperation("signup", () => {
            if (fail) throw new Error("mail server down");
            return "ok";
          })
          .addOperation(sleep("trial-period", 14 * 86_400_000)),
        provider,
        keys,
      );
    await rejectionOf(trial().forge());
    expect(provider.tryLoad(keys.instanceId, keys.workflowKey)).toMatchObject({ status: "failed", error: { message: "mail server down" } });
    fail = false;
    await rejectionOf(trial().forge()); // suspends at the sleep
    const stored = provider.tryLoad(keys.instanceId, keys.workflowKey);
    expect(stored?.status).toBe("waiting");
    expect(stored?.error).toBeUndefined();
  });
});

describe("a failure retried on the same foundry", () => {
  // Operation 1 records the charge's id, then fails: after a crash the id would be gone with the process.
  function charging(attempts: { seen: Record<string, unknown>[]; fail: boolean }, properties: Record<string, unknown>) {
    return createFoundry<Record<string, unknown>>("Charge", { properties })
      .withOperation("reserve", (_input, foundry) => {
        foundry.properties.reserved = 1;
      })
      .withOperation("charge", (_input, foundry) => {
        attempts.seen.push({ ...foundry.properties });
        foundry.properties.chargeId = "ch_1";
        foundry.properties.stock = 9;
        if (attempts.fail) throw new Error("network");
      });
  }

  it("runs the retry with the properties of the last checkpoint, without keys the failed run added after it", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    const attempts = { seen: [] as Record<string, unknown>[], fail: true };
    const foundry = usePersistence(charging(attempts, { stock: 10 }), provider, keys);
    await rejectionOf(foundry.forge());
    attempts.fail = false;
    await foundry.forge();
    expect(attempts.seen).toEqual([
      { stock: 10, reserved: 1 },
      { stock: 10, reserved: 1 },
    ]);
  });

  /** A record a first foundry with `properties` left failed at "charge"; the next attempt succeeds. */
  async function failedOnce(properties: Record<string, unknown>) {
    const store = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    const attempts = { seen: [] as Record<string, unknown>[], fail: true };
    await rejectionOf(usePersistence(charging(attempts, properties), store, keys).forge());
    attempts.fail = false;
    return { store, keys, attempts };
  }

  /** `store` behind the three methods, loading through `tryLoad`. */
  const loadingThrough = (store: MemoryPersistenceProvider, tryLoad: (instanceId: string, workflowKey: string) => WorkflowExecutionSnapshot | undefined) => ({
    capabilities: { compareAndSet: true },
    save: (snapshot: WorkflowExecutionSnapshot) => store.save(snapshot),
    tryLoad,
    delete: (instanceId: string, workflowKey: string) => store.delete(instanceId, workflowKey),
  });

  it("keeps them too on a foundry whose only run before could not even load the record", async () => {
    const { store, keys, attempts } = await failedOnce({ stock: 10 });
    let blips = 1;
    const blipping = loadingThrough(store, (instanceId, workflowKey) => {
      if (blips-- > 0) throw new Error("connection reset");
      return store.tryLoad(instanceId, workflowKey);
    });
    const foundry = usePersistence(charging(attempts, { stock: 10, region: "eu" }), blipping, keys);
    await rejectionOf(foundry.forge());
    await foundry.forge();
    expect(attempts.seen.at(-1)).toEqual({ stock: 10, reserved: 1, region: "eu" });
  });

  it("replaces them on a foundry whose run before restored them and then failed to open", async () => {
    const { store, keys, attempts } = await failedOnce({ stale: "first deploy" });
    // The first load hands the record over, and another worker rewrites it at once: this run's claim then conflicts.
    let loads = 0;
    const provider = loadingThrough(store, (instanceId, workflowKey) => {
      const stored = store.tryLoad(instanceId, workflowKey);
      if (stored !== undefined && loads++ === 0) store.save({ ...stored, revision: stored.revision + 1, properties: { fresh: "rewritten" } });
      return stored;
    });
    const foundry = usePersistence(charging(attempts, {}), provider, { ...keys, lease: { ttlMs: 60_000 } });
    await expect(foundry.forge()).rejects.toMatchObject({ code: "SNAPSHOT_CONFLICT" });
    await foundry.forge();
    expect(attempts.seen.at(-1)).toEqual({ fresh: "rewritten" });
  });

  it("keeps a new foundry's initial properties under the stored ones", async () => {
    const { store, keys, attempts } = await failedOnce({ stock: 10 });
    await usePersistence(charging(attempts, { stock: 10, region: "eu" }), store, keys).forge();
    expect(attempts.seen[1]).toEqual({ stock: 10, reserved: 1, region: "eu" });
  });

  it("so on a new foundry a key a completed operation deleted is back, and one it set to undefined stays undefined (README, Resume)", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys();
    const seen: Record<string, unknown>[] = [];
    const consuming = (fail: boolean) =>
      usePersistence(createFoundry<Record<string, unknown>>("Consume", { properties: { token: "one-time", code: "once" } }), provider, keys)
        .withOperation("consume", (_input, foundry) => {
          delete foundry.properties.token;
          foundry.properties.code = undefined;
        })
        .withOperation("next", (_input, foundry) => {
          seen.push({ ...foundry.properties });
          if (fail) throw new Error("crashed");
        });
    await rejectionOf(consuming(true).forge());
    await consuming(false).forge();
    expect(seen).toEqual([{ code: undefined }, { token: "one-time", code: undefined }]);
  });

  it("costs the failing run one more load: the failure record is built from the last checkpoint read back", async () => {
    const provider = new RecordingProvider();
    await rejectionOf(usePersistence(transfer({ fail: true }, { balance: 100, ledger: { entries: [] } }), provider, uniqueKeys()).forge());
    expect(provider.calls.map(({ call }) => call)).toEqual(["tryLoad", "save", "tryLoad", "save"]);
  });
});
