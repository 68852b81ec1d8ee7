import { afterEach, describe, expect, it } from "vitest";
import { copyPlain } from "../../src/internal/copy.js";

describe("copyPlain", () => {
  it("copies plain objects and arrays all the way down, sharing nothing", () => {
    const original = { a: 1, nested: { list: [{ deep: "x" }, 2], empty: {} }, none: null };
    const copy = copyPlain(original);
    expect(copy).toEqual(original);
    expect(copy.nested).not.toBe(original.nested);
    expect(copy.nested.list).not.toBe(original.nested.list);
    expect(copy.nested.list[0]).not.toBe(original.nested.list[0]);
  });

  it("keeps an own __proto__ key as an own property, copied, without changing the prototype", () => {
    const original = JSON.parse('{"__proto__": {"polluted": true}, "b": 2}') as Record<string, unknown>;
    const copy = copyPlain(original);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.hasOwn(copy, "__proto__")).toBe(true);
    expect(Object.getOwnPropertyDescriptor(copy, "__proto__")?.value).toEqual({ polluted: true });
    expect(Object.getOwnPropertyDescriptor(copy, "__proto__")?.value).not.toBe(Object.getOwnPropertyDescriptor(original, "__proto__")?.value);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("keeps the holes of a sparse array", () => {
    // eslint-disable-next-line no-sparse-arrays
    const copy = copyPlain([1, , 3]);
    expect(copy).toHaveLength(3);
    expect(1 in copy).toBe(false);
  });

  it("hands any other object to copyOther, and keeps it by reference by default", () => {
    const date = new Date(0);
    const map = new Map([[1, 2]]);
    expect(copyPlain({ date }).date).toBe(date);
    expect(copyPlain({ map }, (other) => ({ copied: other })).map).toEqual({ copied: map });
  });

  it("copies a cycle as a cycle of copies, through objects and arrays, instead of overflowing the stack", () => {
    const order: Record<string, unknown> = { id: "A-1", lines: [] as unknown[] };
    const line = { sku: "sku-1", order };
    (order.lines as unknown[]).push(line);
    order.self = order;
    const copy = copyPlain({ order });
    expect(copy.order).not.toBe(order);
    expect(copy.order.self).toBe(copy.order);
    const [copiedLine] = copy.order.lines as (typeof line)[];
    expect(copiedLine).not.toBe(line);
    expect(copiedLine?.order).toBe(copy.order);
  });

  it("copies a value nested deeper than the fast copy goes, with each object copied once and holes kept", () => {
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 150; i++) deep = { next: deep };
    const shared = { shared: true };
    // eslint-disable-next-line no-sparse-arrays
    const value = { deep, a: shared, b: shared, sparse: [1, , 3], date: new Date(0) };
    const copy = copyPlain(value);
    expect(copy).toEqual(value);
    expect(copy.deep).not.toBe(deep);
    expect(copy.a).toBe(copy.b);
    expect(copy.a).not.toBe(shared);
    expect(1 in copy.sparse).toBe(false);
    expect(copy.date).toBe(value.date);
  });

  it("copies an object reached twice without a cycle as two copies", () => {
    const shared = { n: 1 };
    const copy = copyPlain({ a: shared, b: shared });
    expect(copy.a).toEqual(shared);
    expect(copy.a).not.toBe(copy.b);
  });

  describe("with an enumerable property added to Object.prototype", () => {
    afterEach(() => {
      delete (Object.prototype as Record<string, unknown>).inheritedObject;
      delete (Object.prototype as Record<string, unknown>).inheritedNumber;
      delete (Object.prototype as Record<string, unknown>).inheritedGetter;
    });

    it("copies own properties only, never the inherited ones", () => {
      Object.defineProperty(Object.prototype, "inheritedObject", { value: { x: 1 }, enumerable: true, configurable: true, writable: true });
      Object.defineProperty(Object.prototype, "inheritedNumber", { value: 7, enumerable: true, configurable: true, writable: true });
      const copy = copyPlain({ own: { nested: true } });
      expect(Object.keys(copy)).toEqual(["own"]);
      expect(Object.keys(copy.own)).toEqual(["nested"]);
      expect(Object.hasOwn(copy, "inheritedObject")).toBe(false);
      expect(Object.hasOwn(copy, "inheritedNumber")).toBe(false);
    });

    it("never reads an inherited getter", () => {
      Object.defineProperty(Object.prototype, "inheritedGetter", {
        get: () => {
          throw new Error("read an inherited getter");
        },
        enumerable: true,
        configurable: true,
      });
      const original = { own: { nested: [{ deep: 1 }] } };
      const copy = copyPlain(original);
      // Checked once the getter is gone: expect itself reads properties of what it is given.
      delete (Object.prototype as Record<string, unknown>).inheritedGetter;
      expect(copy).toEqual(original);
      expect(copy.own.nested[0]).not.toBe(original.own.nested[0]);
    });
  });
});
