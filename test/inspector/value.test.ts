import { describe, expect, it } from "vitest";
import { describeValue, type ValueNode } from "../../src/inspector/value.js";
import { detailOf } from "../../src/inspector/views.js";
import { fullSnapshot } from "../../src/persistence/testing/fixtures.js";

const now = Date.parse("2026-03-01T00:00:00.000Z");
// 200 arrays of 200 numbers: every collection within the cut of 200 items, 40,201 nodes in all.
const wide = () => Array.from({ length: 200 }, (_, row) => Array.from({ length: 200 }, (_, column) => row * 200 + column));

/** Every node of a detail's values, however deep: what the page draws. */
function nodesIn(tree: unknown): ValueNode[] {
  if (typeof tree !== "object" || tree === null) return [];
  const own = typeof (tree as { t?: unknown }).t === "string" ? [tree as ValueNode] : [];
  return [...own, ...Object.values(tree).flatMap(nodesIn)];
}

describe("describeValue and detailOf: one answer's budget", () => {
  it("bounds the nodes of an answer whose values are far over its budget, and says what it left out", () => {
    const detail = detailOf(fullSnapshot({ properties: { wide: wide(), later: [1, 2, 3], after: "x" } }), now, 3);
    const nodes = nodesIn(detail);
    // 5,000 and a few: the values described before the budget ran out, and a mark for each left out.
    expect(nodes.length).toBeGreaterThan(4_900);
    expect(nodes.length).toBeLessThanOrEqual(5_100);
    expect(JSON.stringify(detail).length).toBeLessThan(200_000);
    expect(detail.cut).toBe(true);
    const [[, shown], [, later], [, after]] = detail.properties as [[string, ValueNode], [string, ValueNode], [string, ValueNode]];
    // The outer array stops early, saying so; its size is still what it holds.
    expect(shown).toMatchObject({ t: "array", size: 200, cut: true });
    const rows = (shown as { items: { items: unknown[]; cut?: true }[] }).items;
    expect(rows.length).toBeLessThan(200);
    expect(rows.slice(0, -1).every((row) => row.items.length === 200 && row.cut === undefined)).toBe(true);
    // Every top-level key is listed, what did not fit marked as left out.
    expect([later, after]).toEqual([{ t: "cut", of: "Array(3)" }, { t: "cut", of: "a string of 1 character" }]);
  });

  it("counts text too: one long string referred to from many places cannot make an answer of megabytes", () => {
    const text = "x".repeat(20_000);
    const shared = Array.from({ length: 200 }, () => text);
    const detail = detailOf(fullSnapshot({ properties: Object.fromEntries(Array.from({ length: 5 }, (_, index) => [`p${index}`, shared])) }), now, 3);
    // Unbounded, this is 200 x 5 strings of 20,000 characters: 20 MB.
    expect(JSON.stringify(detail).length).toBeLessThan(1_200_000);
    expect(detail.cut).toBe(true);
  });

  it("describes the error first: why it failed is shown when the properties are too large to", () => {
    const detail = detailOf(fullSnapshot({ properties: { wide: wide() }, error: { name: "Error", message: "card declined", operationIndex: 3, operationName: "charge" } }), now, 3);
    expect(detail.error).toEqual([["name", { t: "string", v: "Error" }], ["message", { t: "string", v: "card declined" }], ["operationIndex", { t: "number", v: "3" }], ["operationName", { t: "string", v: "charge" }]]);
  });

  it("leaves an answer within its budget whole, with nothing marked cut", () => {
    const under = Array.from({ length: 20 }, (_, row) => Array.from({ length: 200 }, (_, column) => row * 200 + column));
    const detail = detailOf(fullSnapshot({ properties: { under } }), now, 3);
    expect(detail.cut).toBe(false);
    expect(nodesIn(detail).filter((node) => node.t === "cut" || "cut" in node)).toEqual([]);
    expect(detail.properties[0]?.[1]).toEqual({ t: "array", size: 20, items: under.map((row) => ({ t: "array", size: 200, items: row.map((value) => ({ t: "number", v: String(value) })) })) });
  });

  it("gives each describeValue call a budget of its own unless one is passed", () => {
    expect(describeValue(wide())).toMatchObject({ cut: true });
    expect(describeValue([1, 2])).toEqual({ t: "array", size: 2, items: [{ t: "number", v: "1" }, { t: "number", v: "2" }] });
  });
});

describe("describeValue: the name of an object's class", () => {
  it("takes it from the prototype: an own constructor key is data, as decoded from JSON", () => {
    const plain = [{ constructor: { name: "Date" }, v: 1 }, { constructor: { name: "N".repeat(100_000) } }, { constructor: { name: { a: 1 } } }];
    expect(plain.map((value) => (describeValue(value) as { name?: string }).name)).toEqual(["Object", "Object", "Object"]);
  });

  it("names an instance of a class by the class, a name that is not a string as Object, and cuts a long one at 200 characters, which keeps 5,000 such objects within about 1 MB", () => {
    class Order {
      readonly id = "A-1";
    }
    const long = new (Object.defineProperty(class {}, "name", { value: "N".repeat(100_000) }))();
    const notText = new (Object.defineProperty(class {}, "name", { value: { a: 1 } }))();
    const throwing = Object.create(Object.defineProperty({}, "constructor", { get: () => { throw new Error("no"); } })) as object;
    expect(describeValue(new Order())).toEqual({ t: "object", name: "Order", size: 1, entries: [["id", { t: "string", v: "A-1" }]] });
    expect([long, notText, throwing].map((value) => (describeValue(value) as { name: string }).name)).toEqual(["N".repeat(200), "Object", "Object"]);
    const many = Array.from({ length: 200 }, () => Array.from({ length: 25 }, () => long));
    expect(JSON.stringify(describeValue(many)).length).toBeLessThan(1_500_000);
  });
});
