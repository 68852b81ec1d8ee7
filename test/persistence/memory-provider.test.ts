import { describe, it, expect, vi } from "vitest";
import { MemoryPersistenceProvider, SnapshotConflictError, type WorkflowExecutionSnapshot } from "../../src/persistence/index.js";
import { opNames } from "../support/counted-workflow.js";
import { snapshotFor, uniqueKeys } from "../support/run-snapshots.js";

function snapshot(overrides: Partial<WorkflowExecutionSnapshot> = {}): WorkflowExecutionSnapshot {
  return snapshotFor(uniqueKeys("memory"), opNames(3), { nextOperationIndex: 1, properties: { order: { id: "A-1", lines: [{ sku: "x", qty: 1 }] } }, ...overrides });
}

const load = (provider: MemoryPersistenceProvider, s: WorkflowExecutionSnapshot) => provider.tryLoad(s.foundryExecutionId, s.workflowId);

// A thunk, so that a synchronous throw and a rejection are both observed as a rejection.
const attempt = (call: () => unknown): Promise<unknown> => Promise.resolve().then(call);

describe("MemoryPersistenceProvider", () => {
  it("declares compare-and-set, list, claim, the mailbox and push", () => {
    expect(new MemoryPersistenceProvider().capabilities).toEqual({ compareAndSet: true, list: true, claim: true, mailbox: true, push: true });
  });

  it("tryLoad of an unknown key resolves undefined", async () => {
    await expect(attempt(() => new MemoryPersistenceProvider().tryLoad("nobody", "nothing"))).resolves.toBeUndefined();
  });

  it("delete of an unknown key resolves", async () => {
    await expect(attempt(() => new MemoryPersistenceProvider().delete("nobody", "nothing"))).resolves.toBeUndefined();
  });

  it("save then tryLoad returns an equal snapshot, and delete removes it", () => {
    const provider = new MemoryPersistenceProvider();
    const saved = snapshot();
    provider.save(saved);
    expect(load(provider, saved)).toEqual(saved);
    provider.delete(saved.foundryExecutionId, saved.workflowId);
    expect(load(provider, saved)).toBeUndefined();
    expect(provider.size).toBe(0);
  });

  it("counts stored snapshots, not saves, across workflows of one instance", async () => {
    const provider = new MemoryPersistenceProvider();
    const first = snapshot({ foundryExecutionId: "order-1", workflowId: "Checkout" });
    provider.save(first);
    provider.save({ ...first, revision: 2 });
    expect(provider.size).toBe(1);
    provider.save(snapshot({ foundryExecutionId: "order-1", workflowId: "Refund" }));
    expect(provider.size).toBe(2);
    expect((await provider.list()).map((stored) => stored.workflowId).sort()).toEqual(["Checkout", "Refund"]);
    provider.delete("order-1", "Checkout");
    provider.delete("order-1", "Checkout");
    provider.delete("order-2", "Refund");
    expect(provider.size).toBe(1);
    expect(provider.tryLoad("order-1", "Refund")?.workflowId).toBe("Refund");
    provider.delete("order-1", "Refund");
    expect(provider.size).toBe(0);
    expect(await provider.list()).toEqual([]);
  });

  it("keeps a copy: mutating a saved snapshot afterwards does not change what is stored", () => {
    const provider = new MemoryPersistenceProvider();
    const saved = snapshot();
    const before = structuredClone(saved);
    provider.save(saved);
    (saved.properties.order as { lines: { qty: number }[] }).lines[0]!.qty = 99;
    (saved as { nextOperationIndex: number }).nextOperationIndex = 3;
    expect(load(provider, saved)).toEqual(before);
  });

  it("hands out copies: mutating a loaded snapshot does not change what is stored", () => {
    const provider = new MemoryPersistenceProvider();
    const saved = snapshot();
    provider.save(saved);
    const loaded = load(provider, saved) as WorkflowExecutionSnapshot;
    (loaded.properties.order as { id: string }).id = "changed";
    (loaded.properties as Record<string, unknown>).added = true;
    expect(load(provider, saved)).toEqual(saved);
    expect(load(provider, saved)).not.toBe(load(provider, saved));
  });

  it('keeps ("a|b", "c") and ("a", "b|c") apart', () => {
    const provider = new MemoryPersistenceProvider();
    const left = snapshot({ foundryExecutionId: "a|b", workflowId: "c", properties: { side: "left" } });
    const right = snapshot({ foundryExecutionId: "a", workflowId: "b|c", properties: { side: "right" } });
    provider.save(left);
    provider.save(right);
    expect(provider.size).toBe(2);
    expect(provider.tryLoad("a|b", "c")?.properties).toEqual({ side: "left" });
    expect(provider.tryLoad("a", "b|c")?.properties).toEqual({ side: "right" });
    provider.delete("a|b", "c");
    expect(provider.tryLoad("a", "b|c")?.properties).toEqual({ side: "right" });
  });

  it('keeps other separator-like keys apart too (JSON quotes, commas, brackets)', () => {
    const provider = new MemoryPersistenceProvider();
    const pairs: [string, string][] = [['a","b', "c"], ["a", 'b","c'], ["[", "]"], ["", ","], [",", ""]];
    for (const [instance, workflow] of pairs) provider.save(snapshot({ foundryExecutionId: instance, workflowId: workflow }));
    expect(provider.size).toBe(pairs.length);
    for (const [instance, workflow] of pairs) expect(provider.tryLoad(instance, workflow)?.foundryExecutionId).toBe(instance);
  });

  it('stores a snapshot under the key "__proto__" without polluting anything', () => {
    const provider = new MemoryPersistenceProvider();
    const properties = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    const saved = snapshot({ foundryExecutionId: "__proto__", workflowId: "__proto__", properties });
    provider.save(saved);
    const loaded = provider.tryLoad("__proto__", "__proto__");
    expect(loaded?.foundryExecutionId).toBe("__proto__");
    expect(provider.size).toBe(1);
    expect(({} as any).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(loaded?.properties)).toBe(Object.prototype);
    expect(Object.hasOwn(loaded?.properties ?? {}, "__proto__")).toBe(true);
    expect((loaded?.properties as any).polluted).toBeUndefined();
  });

  describe("compare-and-set", () => {
    it("accepts revision 1 when nothing is stored and then each next revision", () => {
      const provider = new MemoryPersistenceProvider();
      const first = snapshot();
      provider.save(first);
      provider.save({ ...first, revision: 2, nextOperationIndex: 2 });
      expect(load(provider, first)).toMatchObject({ revision: 2, nextOperationIndex: 2 });
    });

    it.each([
      { case: "a duplicate revision", stored: 2, offered: 2 },
      { case: "a stale revision", stored: 3, offered: 2 },
      { case: "a revision that skips ahead", stored: 1, offered: 3 },
      { case: "a first save that is not revision 1", stored: 0, offered: 2 },
    ])("rejects $case with SnapshotConflictError and keeps the stored snapshot", async ({ stored, offered }) => {
      const provider = new MemoryPersistenceProvider();
      const base = snapshot();
      for (let revision = 1; revision <= stored; revision++) provider.save({ ...base, revision });
      const before = load(provider, base);
      await expect(attempt(() => provider.save({ ...base, revision: offered, properties: { overwritten: true } }))).rejects.toBeInstanceOf(SnapshotConflictError);
      expect(load(provider, base)).toEqual(before);
    });

    it("starts again at revision 1 after a delete", () => {
      const provider = new MemoryPersistenceProvider();
      const saved = snapshot();
      provider.save(saved);
      provider.save({ ...saved, revision: 2 });
      provider.delete(saved.foundryExecutionId, saved.workflowId);
      expect(() => provider.save(saved)).not.toThrow();
    });
  });

  describe("list", () => {
    const seeded = () => {
      const provider = new MemoryPersistenceProvider();
      const rows = [
        snapshot({ status: "running", workflowId: "Order-v1", workflowName: "Order", updatedAt: "2026-01-01T00:00:00.000Z" }),
        snapshot({ status: "failed", workflowId: "Order-v1", workflowName: "Order", updatedAt: "2026-01-02T00:00:00.000Z" }),
        snapshot({ status: "compensating", workflowId: "Ship-v1", workflowName: "Ship", updatedAt: "2026-01-03T00:00:00.000Z" }),
        snapshot({ status: "completed", workflowId: "Ship-v2", workflowName: "Ship", updatedAt: "2026-01-04T00:00:00.000Z" }),
      ];
      for (const row of rows) provider.save(row);
      return { provider, rows };
    };
    const ids = (snapshots: WorkflowExecutionSnapshot[]) => snapshots.map((s) => s.foundryExecutionId).sort();

    it("lists every snapshot without a filter", async () => {
      const { provider, rows } = seeded();
      expect(ids(await provider.list())).toEqual(ids(rows));
    });

    it("takes list options like every provider: it never calls onUnreadable, and refuses unknown options", async () => {
      const { provider, rows } = seeded();
      const onUnreadable = vi.fn();
      expect(ids(await provider.list({}, undefined, { onUnreadable }))).toEqual(ids(rows));
      expect(onUnreadable).not.toHaveBeenCalled();
      await expect(provider.list({}, undefined, { skipBroken: true } as never)).rejects.toThrow(/MemoryPersistenceProvider\.list\(filter, signal, options\): options: unknown option "skipBroken"/);
    });

    it("filters by one status or several", async () => {
      const { provider, rows } = seeded();
      expect(ids(await provider.list({ status: "failed" }))).toEqual(ids([rows[1]!]));
      expect(ids(await provider.list({ status: ["running", "compensating"] }))).toEqual(ids([rows[0]!, rows[2]!]));
    });

    it("filters by workflowId and by workflowName", async () => {
      const { provider, rows } = seeded();
      expect(ids(await provider.list({ workflowId: "Order-v1" }))).toEqual(ids([rows[0]!, rows[1]!]));
      expect(ids(await provider.list({ workflowName: "Ship" }))).toEqual(ids([rows[2]!, rows[3]!]));
    });

    it("filters by updatedBefore, given as a Date or a string, exclusive", async () => {
      const { provider, rows } = seeded();
      expect(ids(await provider.list({ updatedBefore: new Date("2026-01-03T00:00:00.000Z") }))).toEqual(ids([rows[0]!, rows[1]!]));
      expect(ids(await provider.list({ updatedBefore: "2026-01-02T00:00:00.001Z" }))).toEqual(ids([rows[0]!, rows[1]!]));
    });

    it("combines filters", async () => {
      const { provider, rows } = seeded();
      expect(ids(await provider.list({ workflowName: "Ship", status: "completed" }))).toEqual(ids([rows[3]!]));
      expect(await provider.list({ workflowName: "Order", status: "completed" })).toEqual([]);
    });

    it("returns copies", async () => {
      const { provider, rows } = seeded();
      const [listed] = await provider.list({ status: "running" });
      (listed!.properties as Record<string, unknown>).changed = true;
      expect(load(provider, rows[0]!)).toEqual(rows[0]);
    });
  });

  describe("an aborted signal", () => {
    const aborted = () => {
      const controller = new AbortController();
      controller.abort(new Error("cancelled"));
      return controller.signal;
    };

    it("rejects save and writes nothing", async () => {
      const provider = new MemoryPersistenceProvider();
      await expect(attempt(() => provider.save(snapshot(), aborted()))).rejects.toThrow("cancelled");
      expect(provider.size).toBe(0);
    });

    it("rejects tryLoad, delete and list", async () => {
      const provider = new MemoryPersistenceProvider();
      const saved = snapshot();
      provider.save(saved);
      await expect(attempt(() => provider.tryLoad(saved.foundryExecutionId, saved.workflowId, aborted()))).rejects.toThrow("cancelled");
      await expect(attempt(() => provider.delete(saved.foundryExecutionId, saved.workflowId, aborted()))).rejects.toThrow("cancelled");
      await expect(attempt(() => provider.list({}, aborted()))).rejects.toThrow("cancelled");
      expect(provider.size).toBe(1);
    });
  });
});
