import { describe, expect, it } from "vitest";
import { createFoundry } from "../../src/index.js";
import { MemoryPersistenceProvider, usePersistence } from "../../src/persistence/index.js";
import { rejectionOf } from "../support/promises.js";
import { uniqueKeys } from "../support/run-snapshots.js";

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
