import { describe, it, expect, vi } from "vitest";
import { createFoundry } from "../../src/index.js";
import {
  createSnapshotCodec,
  MemoryPersistenceProvider,
  SnapshotCorruptedError,
  SnapshotSerializationError,
  usePersistence,
  type SnapshotCodec,
  type WorkflowExecutionSnapshot,
} from "../../src/persistence/index.js";
import { opNames } from "../support/counted-workflow.js";
import { rejectionOf } from "../support/promises.js";
import { snapshotFor, uniqueKeys } from "../support/run-snapshots.js";

class Price {
  constructor(readonly cents: number) {}
  toString(): string {
    return `${(this.cents / 100).toFixed(2)} EUR`;
  }
}

const snapshot = (properties: Record<string, unknown>, overrides: Partial<WorkflowExecutionSnapshot> = {}): WorkflowExecutionSnapshot =>
  snapshotFor(uniqueKeys("memory-storage"), opNames(3), { nextOperationIndex: 1, properties, ...overrides });

const load = (provider: MemoryPersistenceProvider, s: WorkflowExecutionSnapshot) => provider.tryLoad(s.foundryExecutionId, s.workflowId);

function refusal(provider: MemoryPersistenceProvider, saved: WorkflowExecutionSnapshot): SnapshotSerializationError {
  try {
    provider.save(saved);
  } catch (error) {
    expect(error).toBeInstanceOf(SnapshotSerializationError);
    return error as SnapshotSerializationError;
  }
  throw new Error("the save was accepted");
}

describe("MemoryPersistenceProvider storage", () => {
  describe("by default, through the codec", () => {
    it("refuses a function with SnapshotSerializationError naming its path, and stores nothing", () => {
      const provider = new MemoryPersistenceProvider();
      const saved = snapshot({ order: { id: "A-1", notify: () => "sent" } });
      expect(refusal(provider, saved).path).toBe("properties.order.notify");
      expect(provider.size).toBe(0);
      expect(load(provider, saved)).toBeUndefined();
    });

    it("refuses a class instance with SnapshotSerializationError naming its path, and keeps the stored revision", () => {
      const provider = new MemoryPersistenceProvider();
      const first = snapshot({ price: 1999 });
      provider.save(first);
      const error = refusal(provider, { ...first, revision: 2, properties: { price: new Price(1999) } });
      expect(error.path).toBe("properties.price");
      expect(error.message).toContain("instances of class Price cannot be stored");
      expect(load(provider, first)).toEqual(first);
      expect(() => provider.save({ ...first, revision: 2 })).not.toThrow();
    });

    it("refuses a cycle", () => {
      const order: Record<string, unknown> = { id: "A-1" };
      order.self = order;
      expect(refusal(new MemoryPersistenceProvider(), snapshot({ order })).path).toBe("properties.order.self");
    });

    it("round-trips a Date, a Map, a BigInt and undefined as themselves", () => {
      const provider = new MemoryPersistenceProvider();
      const properties = { at: new Date("2026-03-01T12:00:00.000Z"), lines: new Map([["sku-1", 2n]]), total: 12_345_678_901_234_567_890n, note: undefined };
      const saved = snapshot(properties);
      provider.save(saved);
      const loaded = load(provider, saved)?.properties as typeof properties;
      expect(loaded.at).toBeInstanceOf(Date);
      expect(loaded.at.toISOString()).toBe("2026-03-01T12:00:00.000Z");
      expect(loaded.lines).toBeInstanceOf(Map);
      expect(loaded.lines.get("sku-1")).toBe(2n);
      expect(loaded.total).toBe(12_345_678_901_234_567_890n);
      expect(Object.hasOwn(loaded, "note")).toBe(true);
    });

    it("fails a run whose properties hold a class instance on its first checkpoint, as a durable store would", async () => {
      const provider = new MemoryPersistenceProvider();
      const foundry = createFoundry("Priced", { properties: { price: new Price(1999) } });
      const ran: string[] = [];
      foundry.withOperation("charge", () => void ran.push("charge")).withOperation("ship", () => void ran.push("ship"));
      usePersistence(foundry, provider, { instanceId: "order-42" });
      const error = await rejectionOf(foundry.forge());
      expect(error).toBeInstanceOf(SnapshotSerializationError);
      expect((error as SnapshotSerializationError).path).toBe("properties.price");
      expect(ran).not.toContain("ship");
    });

    it("uses a codec it is given, and list hands a record that codec cannot decode to onUnreadable", async () => {
      const builtIn = createSnapshotCodec();
      let encodes = 0;
      let unreadable = "";
      const codec: SnapshotCodec = {
        encode: (s) => (encodes++, builtIn.encode(s)),
        decode: (text, keys) => {
          if (keys.foundryExecutionId === unreadable) throw new SyntaxError("unexpected token");
          return builtIn.decode(text, keys);
        },
      };
      const provider = new MemoryPersistenceProvider({ codec });
      const good = snapshot({ ok: true });
      const bad = snapshot({ ok: false });
      provider.save(good);
      provider.save(bad);
      expect(encodes).toBe(2);
      unreadable = bad.foundryExecutionId;
      expect(load(provider, good)).toEqual(good);
      const onUnreadable = vi.fn();
      expect(await provider.list({}, undefined, { onUnreadable })).toEqual([good]);
      expect(onUnreadable).toHaveBeenCalledOnce();
      expect(onUnreadable.mock.calls[0]?.[0]).toBeInstanceOf(SnapshotCorruptedError);
      await expect(provider.list()).rejects.toBeInstanceOf(SnapshotCorruptedError);
    });
  });

  describe("with live: true", () => {
    it("keeps copies of live objects: a cycle stays a cycle, a function is kept, a class instance comes back plain", () => {
      const callback = () => "called";
      const order: Record<string, unknown> = { id: "A-1" };
      order.self = order;
      const saved = snapshot({ order, callback, point: new Price(3) });
      const provider = new MemoryPersistenceProvider({ live: true });
      provider.save(saved);
      const properties = load(provider, saved)?.properties as { order: Record<string, unknown>; callback: () => string; point: unknown };
      expect(properties.order).not.toBe(order);
      expect(properties.order.self).toBe(properties.order);
      expect(properties.callback).toBe(callback);
      expect(properties.point).toEqual({ cents: 3 });
      expect(Object.getPrototypeOf(properties.point)).toBe(Object.prototype);
    });

    it("hands out copies: mutating a saved or a loaded snapshot changes nothing stored", async () => {
      const provider = new MemoryPersistenceProvider({ live: true });
      const saved = snapshot({ order: { id: "A-1" } });
      provider.save(saved);
      (saved.properties.order as { id: string }).id = "changed";
      const loaded = load(provider, saved) as WorkflowExecutionSnapshot;
      expect(loaded.properties).toEqual({ order: { id: "A-1" } });
      (loaded.properties.order as { id: string }).id = "changed again";
      const [listed] = await provider.list();
      expect(listed?.properties).toEqual({ order: { id: "A-1" } });
    });
  });

  describe("options", () => {
    it.each([
      { case: "an unknown option", options: { liveObjects: true }, message: 'MemoryPersistenceProvider(options): unknown option "liveObjects" (known: live, codec)' },
      { case: "a live that is not a boolean", options: { live: "yes" }, message: 'MemoryPersistenceProvider(options): options.live must be a boolean, got "yes"' },
      { case: "a codec without decode", options: { codec: { encode: String } }, message: "MemoryPersistenceProvider(options): options.codec must be an object with encode and decode functions, got object" },
      { case: "a null codec", options: { codec: null }, message: "options.codec must be an object with encode and decode functions, got null" },
      { case: "a codec with live: true", options: { live: true, codec: createSnapshotCodec() }, message: "options.codec cannot be combined with live: true" },
      { case: "options that are not an object", options: "live", message: 'MemoryPersistenceProvider(options): options must be an object, got "live"' },
    ])("refuses $case with a TypeError naming it", ({ options, message }) => {
      expect(() => new MemoryPersistenceProvider(options as never)).toThrow(TypeError);
      expect(() => new MemoryPersistenceProvider(options as never)).toThrow(message);
    });

    it("takes live: false and an explicit undefined codec (as JavaScript may pass) as the defaults", () => {
      for (const options of [{ live: false }, { codec: undefined }, {}]) {
        expect(() => new MemoryPersistenceProvider(options as never).save(snapshot({ notify: () => "sent" }))).toThrow(SnapshotSerializationError);
      }
    });
  });
});
