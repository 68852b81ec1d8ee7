import { describe, expect, it } from "vitest";
import { SnapshotSerializationError, decodeValue, defaultSnapshotCodec, encodeValue, type WorkflowExecutionSnapshot } from "../../src/persistence/index.js";
import { codecKeys, codecSnapshot } from "./codec-snapshots.js";

// The encoder hands a subtree to JSON.stringify whole when nothing below it needs a tag, and the
// decoder skips its walk when the text holds no tag: these cases sit on the edge of both shortcuts.

const keys = codecKeys;
const snapshot = (properties: Record<string, unknown>): WorkflowExecutionSnapshot => codecSnapshot(properties, { timeline: "0,4,1;4,,1;,,0" });

const roundTrip = <T>(value: T): T => decodeValue(encodeValue(value)) as T;

describe("the plain-JSON shortcuts of the codec", () => {
  it("tags a special value deep inside an otherwise plain subtree, and writes its plain siblings as JSON.stringify does", () => {
    const value = { plain: { list: [1, "two", { three: [3] }] }, deep: { a: [{ b: { c: [1, { when: new Date(0) }] } }] } };
    const text = encodeValue(value);
    expect(text).toContain(`"plain":${JSON.stringify(value.plain)}`);
    expect(text).toContain('{"$wf":"date","v":"1970-01-01T00:00:00.000Z"}');
    const decoded = roundTrip(value);
    expect(decoded).toStrictEqual(value);
    expect(decoded.deep.a[0]?.b.c[1]).toStrictEqual({ when: new Date(0) });
  });

  it("round-trips -0, NaN and ±Infinity alone inside arrays nested in plain data", () => {
    // Each is the only special value of its array, so nothing else sends that array the tagged way.
    const decoded = roundTrip({ zero: [[1, [-0]]], nan: [[2, [NaN]]], inf: [[3, [Infinity]], [-Infinity]], plain: [[0]] }) as Record<string, unknown[][]>;
    expect(Object.is((decoded.zero?.[0]?.[1] as number[])[0], -0)).toBe(true);
    expect(Number.isNaN((decoded.nan?.[0]?.[1] as number[])[0])).toBe(true);
    expect(decoded.inf).toStrictEqual([[3, [Infinity]], [-Infinity]]);
    expect(Object.is(decoded.plain?.[0]?.[0], 0)).toBe(true);
  });

  it("keeps an own __proto__ key inside a plain subtree as an own property, polluting nothing", () => {
    const value = JSON.parse('{"outer":{"__proto__":{"polluted":1},"ok":true}}') as { outer: Record<string, unknown> };
    const decoded = roundTrip(value);
    expect(Object.getPrototypeOf(decoded.outer)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(decoded.outer, "__proto__")?.value).toStrictEqual({ polluted: 1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("keeps an own __proto__ key own when a special value below it takes the tagged path", () => {
    const value = JSON.parse('{"outer":{"__proto__":{"missing":1}}}') as { outer: Record<string, Record<string, unknown>> };
    const inner = Object.getOwnPropertyDescriptor(value.outer, "__proto__")?.value as Record<string, unknown>;
    inner.missing = undefined;
    inner.big = 10n;
    const decoded = roundTrip(value);
    const revived = Object.getOwnPropertyDescriptor(decoded.outer, "__proto__")?.value as Record<string, unknown>;
    expect(Object.getPrototypeOf(decoded.outer)).toBe(Object.prototype);
    expect(Object.keys(revived)).toEqual(["missing", "big"]);
    expect(revived.big).toBe(10n);
    expect(({} as Record<string, unknown>).big).toBeUndefined();
  });

  it("does not let an array hole pass as plain: it comes back as undefined", () => {
    // eslint-disable-next-line no-sparse-arrays
    const decoded = roundTrip({ list: [1, , 3] });
    expect(decoded.list).toHaveLength(3);
    expect(1 in decoded.list).toBe(true);
    expect(decoded.list[1]).toBeUndefined();
  });

  it("reports a getter that throws inside a plain subtree with its path", () => {
    const value = {
      a: {
        b: {
          get c(): never {
            throw new Error("boom");
          },
        },
      },
    };
    expect(() => encodeValue(value, "properties")).toThrow(SnapshotSerializationError);
    expect(() => encodeValue(value, "properties")).toThrow(/properties\.a\.b\.c/);
  });

  it("writes plain data as JSON.stringify does, and sends what it cannot write exactly the tagged way", () => {
    const plain = { s: "x", n: 1.5, zero: 0, t: true, f: false, none: null, list: [1, "a", [null, {}], { k: [] }], nested: { deep: { deeper: [0.1] } } };
    expect(encodeValue(plain)).toBe(JSON.stringify(plain));
    for (const odd of [-0, NaN, Infinity, undefined, 1n, new Date(0)]) {
      expect(encodeValue({ a: [odd], b: { c: odd } }).match(/\{"\$wf":/g)).toHaveLength(2);
    }
    expect(() => encodeValue({ a: [1, () => 1] })).toThrow(SnapshotSerializationError);
  });

  it("escapes an object whose own \"$wf\" key is not enumerable, as it escapes any own \"$wf\" key", () => {
    const hidden = Object.defineProperty({ a: 1 }, "$wf", { value: "date", enumerable: false });
    expect(encodeValue({ hidden })).toBe('{"hidden":{"$wf":"obj","v":[["a",1]]}}');
    expect(encodeValue({ shown: { $wf: "date", a: 1 } })).toBe('{"shown":{"$wf":"obj","v":[["$wf","date"],["a",1]]}}');
  });

  it("decodes a text with no tag as JSON.parse does, and a string that merely ends in $wf as the string", () => {
    const value = { note: 'ends with $wf"', list: ["$wf", { "x$wf": 1 }] };
    expect(roundTrip(value)).toStrictEqual(value);
    expect(decodeValue(JSON.stringify(value))).toStrictEqual(value);
  });

  it("round-trips a snapshot whose plain properties hold one Map deep down, the timeline included", () => {
    const properties = { order: { id: "o-1", lines: [{ sku: "A", qty: 2, meta: { seen: new Map([["k", -0]]) } }] }, tags: ["x"] };
    const decoded = defaultSnapshotCodec.decode(defaultSnapshotCodec.encode(snapshot(properties)), keys);
    expect(decoded.properties).toStrictEqual(properties);
    expect(decoded.timeline).toBe("0,4,1;4,,1;,,0");
    const seen = (decoded.properties.order as typeof properties.order).lines[0]?.meta.seen;
    expect(Object.is(seen?.get("k"), -0)).toBe(true);
  });
});
