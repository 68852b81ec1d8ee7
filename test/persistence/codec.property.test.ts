import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  SnapshotCorruptedError,
  SnapshotSerializationError,
  decodeValue,
  defaultSnapshotCodec,
  encodeValue,
  type WorkflowExecutionSnapshot,
} from "../../src/persistence/index.js";

const keys = { foundryExecutionId: "instance-1", workflowId: "Workflow-v1" };

function snapshot(properties: Record<string, unknown>, lastOutput?: unknown): WorkflowExecutionSnapshot {
  return {
    formatVersion: 1,
    ...keys,
    workflowName: "Workflow",
    definitionFingerprint: "fnv1a:0000000000000000",
    operationCount: 2,
    nextOperationIndex: 1,
    lastOutput,
    properties,
    status: "running",
    revision: 1,
    createdAt: "2024-01-01T00:00:00.000Z",
    updatedAt: "2024-01-01T00:00:00.000Z",
  };
}

// ---- exact equality: -0 is not 0, NaN is NaN, prototypes and byte contents count ----

const builtinErrors: readonly unknown[] = [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError];

/** The prototype a decoded value must have: plain for null-prototype objects, Error for custom error classes. */
function expectedPrototype(value: object): unknown {
  const proto = Object.getPrototypeOf(value) as { constructor?: unknown } | null;
  if (proto === null) return Object.prototype;
  if (value instanceof Error && !builtinErrors.includes(proto.constructor)) return Error.prototype;
  return proto;
}

function bytesOf(value: ArrayBufferView | ArrayBuffer): number[] {
  return ArrayBuffer.isView(value) ? [...new Uint8Array(value.buffer, value.byteOffset, value.byteLength)] : [...new Uint8Array(value)];
}

function same(actual: unknown, expected: unknown): boolean {
  if (typeof expected !== "object" || expected === null) return Object.is(actual, expected);
  if (typeof actual !== "object" || actual === null || Object.getPrototypeOf(actual) !== expectedPrototype(expected)) return false;
  if (expected instanceof Date) return Object.is((actual as Date).getTime(), expected.getTime());
  if (expected instanceof RegExp) return (actual as RegExp).source === expected.source && (actual as RegExp).flags === expected.flags;
  if (ArrayBuffer.isView(expected) || expected instanceof ArrayBuffer) return same(bytesOf(actual as ArrayBuffer), bytesOf(expected));
  if (expected instanceof Map || expected instanceof Set) return same([...(actual as Iterable<unknown>)], [...expected]);
  if (expected instanceof Error) {
    const error = actual as Error;
    return (
      error.name === expected.name &&
      error.message === expected.message &&
      error.stack === expected.stack &&
      Object.hasOwn(error, "cause") === Object.hasOwn(expected, "cause") &&
      same(error.cause, expected.cause)
    );
  }
  const actualKeys = Object.keys(actual);
  const expectedKeys = Object.keys(expected);
  if (actualKeys.length !== expectedKeys.length || (Array.isArray(expected) && (actual as unknown[]).length !== expected.length)) return false;
  return expectedKeys.every(
    (key, i) => actualKeys[i] === key && same((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key]),
  );
}

describe("same (the test's own equality)", () => {
  it("tells -0 from 0, matches NaN, and compares prototypes and bytes", () => {
    expect(same({ a: [-0] }, { a: [0] })).toBe(false);
    expect(same([NaN], [NaN])).toBe(true);
    expect(same(new Uint8Array([1]), new Int8Array([1]))).toBe(false);
    expect(same(new Map([[1, 2]]), new Map([[1, 3]]))).toBe(false);
    expect(same({}, Object.create(null))).toBe(true);
  });
});

// ---- values of every supported type ----

const keyArbitrary = fc.oneof(fc.string(), fc.constantFrom("__proto__", "constructor", "prototype", "", "$wf", "a.b", "0", "x y", "😀"));
const regexps = [/a+/g, /^x\/y$/imsu, /[\]]/y, /(?<name>\d)/d];

class CustomError extends Error {
  override name = "CustomError";
}
const errorTypes = [Error, TypeError, RangeError, CustomError] as const;

const leaf = fc.oneof(
  fc.string({ unit: "binary" }),
  fc.string({ unit: fc.integer({ min: 0xd7f0, max: 0xdfff }).map((code) => String.fromCharCode(code)) }),
  fc.double(),
  // fc.double() yields these rarely (about 1 in 300 each); they are what JSON gets wrong.
  fc.constantFrom(-0, 0, NaN, Infinity, -Infinity),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.bigInt(),
  fc.date({ noInvalidDate: false }),
  fc.constantFrom(...regexps),
  fc.oneof(
    fc.uint8Array(),
    fc.int8Array(),
    fc.uint8ClampedArray(),
    fc.int16Array(),
    fc.uint16Array(),
    fc.int32Array(),
    fc.uint32Array(),
    fc.float32Array(),
    fc.float64Array(),
    fc.bigInt64Array(),
    fc.bigUint64Array(),
    fc.uint8Array({ minLength: 2 }).map((bytes) => bytes.subarray(1)),
    fc.uint8Array().map((bytes) => Buffer.from(bytes)),
    fc.uint8Array().map((bytes) => bytes.buffer),
    fc.uint8Array().map((bytes) => new DataView(bytes.buffer)),
    fc.uint8Array({ minLength: 2 }).map((bytes) => new DataView(bytes.buffer, 1, bytes.length - 2)),
  ),
);

const { value: valueArbitrary } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, leaf, tie("object"), tie("array"), tie("map"), tie("set"), tie("error")),
  object: fc.dictionary(keyArbitrary, tie("value"), { maxKeys: 5 }),
  array: fc.array(tie("value"), { maxLength: 5 }),
  map: fc.array(fc.tuple(fc.oneof(leaf, tie("object")), tie("value")), { maxLength: 4 }).map((entries) => new Map(entries)),
  set: fc.array(tie("value"), { maxLength: 4 }).map((items) => new Set(items)),
  error: fc
    .tuple(fc.constantFrom(...errorTypes), fc.string(), fc.option(tie("value"), { nil: undefined }), fc.boolean())
    .map(([Type, message, cause, hasCause]) => (hasCause ? new Type(message, { cause }) : new Type(message))),
}));

describe("round trip", () => {
  it("decodeValue(encodeValue(v)) equals v exactly, for values of every supported type", () => {
    fc.assert(
      fc.property(valueArbitrary, (value) => same(decodeValue(encodeValue(value)), value)),
      { numRuns: 500 },
    );
  });

  it("a snapshot holding such values decodes to an equal snapshot", () => {
    const properties = fc.dictionary(keyArbitrary, valueArbitrary, { maxKeys: 6 });
    fc.assert(
      fc.property(properties, valueArbitrary, (props, lastOutput) => {
        const value = snapshot(props, lastOutput);
        return same(defaultSnapshotCodec.decode(defaultSnapshotCodec.encode(value), keys), value);
      }),
    );
  });
});

// ---- an unsupported value planted at a random path ----

/** A Map key of each kind the path names differently: `<"a">`, `<1>`, `<2n>`, `<#i>` (an object key, by position). */
type MapKey = string | number | bigint | { readonly id: number };

type Step =
  | { readonly kind: "key"; readonly key: string }
  | { readonly kind: "index"; readonly index: number }
  | { readonly kind: "map"; readonly key: MapKey }
  | { readonly kind: "mapKey" }
  | { readonly kind: "set" }
  | { readonly kind: "cause" };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  keyArbitrary.map((key) => ({ kind: "key" as const, key })),
  fc.nat({ max: 4 }).map((index) => ({ kind: "index" as const, index })),
  fc
    .oneof(keyArbitrary, fc.integer({ min: -1000, max: 1000 }), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), fc.nat().map((id) => ({ id })))
    .map((key) => ({ kind: "map" as const, key })),
  fc.constant({ kind: "mapKey" as const }),
  fc.constant({ kind: "set" as const }),
  fc.constant({ kind: "cause" as const }),
);

/** The path segment of `step`, written from the doc comment of `encodeValue`; `filler` fixes positions. */
function segment(step: Step, filler: readonly unknown[]): string {
  switch (step.kind) {
    case "index":
      return `[${step.index}]`;
    case "map":
      if (typeof step.key === "string") return `<${JSON.stringify(step.key)}>`;
      if (typeof step.key === "number") return `<${step.key}>`;
      if (typeof step.key === "bigint") return `<${step.key}n>`;
      return `<#${filler.length}>`;
    case "mapKey":
      return `<key #${filler.length}>`;
    case "set":
      return `<#${new Set(filler).size}>`;
    case "cause":
      return ".cause";
    case "key":
      return /^[A-Za-z_$][\w$]*$/.test(step.key) ? `.${step.key}` : `[${JSON.stringify(step.key)}]`;
  }
}

function defineOwn(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Wraps `inner` in one container per step (innermost last), among supported filler values, `inner` after them. */
function plant(inner: unknown, steps: readonly Step[], filler: readonly unknown[]): unknown {
  return steps.reduceRight<unknown>((child, step) => {
    switch (step.kind) {
      case "index": {
        const array = [...filler, ...filler, ...filler, ...filler, ...filler].slice(0, step.index);
        while (array.length < step.index) array.push(null);
        return [...array, child, ...filler];
      }
      case "map":
        return new Map<unknown, unknown>([...filler.map((item, i): [unknown, unknown] => [`filler ${i}`, item]), [step.key, child]]);
      case "mapKey":
        return new Map<unknown, unknown>([...filler.map((item, i): [unknown, unknown] => [`filler ${i}`, item]), [child, "value"]]);
      case "set":
        return new Set([...filler, child]);
      case "cause":
        return new Error("wrapper", { cause: child });
      case "key": {
        const record: Record<string, unknown> = Object.fromEntries(filler.map((item, i) => [`filler${i}`, item]));
        defineOwn(record, step.key, child);
        return record;
      }
    }
  }, inner);
}

/** The child that `plant` put into `container` at `step`. */
function childAt(container: unknown, step: Step): unknown {
  switch (step.kind) {
    case "index":
      return (container as unknown[])[step.index];
    case "map":
      return (container as Map<unknown, unknown>).get(step.key);
    case "mapKey":
      return [...(container as Map<unknown, unknown>).keys()].at(-1);
    case "set":
      return [...(container as Set<unknown>)].at(-1);
    case "cause":
      return (container as Error).cause;
    case "key":
      return Object.getOwnPropertyDescriptor(container, step.key)?.value;
  }
}

/** Puts `value` where `plant` put its child in `container` at `step` (still the last entry of a Map key or Set). */
function replaceChild(container: unknown, step: Step, value: unknown): void {
  switch (step.kind) {
    case "index":
      (container as unknown[])[step.index] = value;
      return;
    case "map":
      (container as Map<unknown, unknown>).set(step.key, value);
      return;
    case "mapKey": {
      const map = container as Map<unknown, unknown>;
      map.delete(childAt(map, step));
      map.set(value, "value");
      return;
    }
    case "set": {
      const set = container as Set<unknown>;
      set.delete(childAt(set, step));
      set.add(value);
      return;
    }
    case "cause":
      defineOwn(container as Error, "cause", value);
      return;
    case "key":
      defineOwn(container as object, step.key, value);
      return;
  }
}

/** Encoding `value` throws a SnapshotSerializationError naming exactly `path`, for the reason `reason`; nothing is returned. */
function expectRejected(value: WorkflowExecutionSnapshot, path: string, reason: RegExp): void {
  const written: string[] = [];
  let thrown: unknown;
  try {
    written.push(defaultSnapshotCodec.encode(value));
  } catch (error) {
    thrown = error;
  }
  expect(written).toEqual([]);
  expect(thrown).toBeInstanceOf(SnapshotSerializationError);
  expect((thrown as SnapshotSerializationError).path).toBe(path);
  expect((thrown as SnapshotSerializationError).message).toMatch(reason);
}

class Invoice {
  readonly total = 1;
}
class Ledger extends Map<string, number> {}

/** Unsupported values, each with what the rejection's message must mention. */
const unsupported: readonly (readonly [unknown, RegExp])[] = [
  [() => 1, /function/],
  [function named() {}, /function/],
  [Symbol("bad"), /symbol/],
  [new Invoice(), /Invoice/],
  [new (class {})(), /cannot be stored/],
  [new Ledger([["a", 1]]), /Ledger/],
  [Object.create({ inherited: 1 }) as object, /cannot be stored/],
  [new WeakMap(), /WeakMap/],
  [new WeakSet(), /WeakSet/],
  [new WeakRef({}), /WeakRef/],
  [Promise.resolve(1), /Promise/],
];

const pathArbitrary = fc
  .tuple(keyArbitrary, fc.array(stepArbitrary, { maxLength: 5 }))
  .map(([first, steps]): Step[] => [{ kind: "key", key: first }, ...steps]);
const fillerArbitrary = fc.array(valueArbitrary, { maxLength: 3 });

describe("rejection", () => {
  it("names exactly the path where a function, symbol, class instance, WeakMap, WeakSet, WeakRef or Promise was planted", () => {
    fc.assert(
      fc.property(pathArbitrary, fillerArbitrary, fc.constantFrom(...unsupported), (steps, filler, [planted, reason]) => {
        const properties = plant(planted, steps, filler) as Record<string, unknown>;
        expectRejected(snapshot(properties), `properties${steps.map((step) => segment(step, filler)).join("")}`, reason);
      }),
    );
  });

  it("names exactly the place of the back-reference when a value refers to one of its ancestors", () => {
    const placeholder = Symbol("back-reference");
    fc.assert(
      fc.property(pathArbitrary, fillerArbitrary, fc.nat(), (steps, filler, pick) => {
        const properties = plant(placeholder, steps, filler) as Record<string, unknown>;
        const value = snapshot(properties);
        // containers[i] holds the child at steps[i]; the snapshot itself is an ancestor too.
        const containers: unknown[] = [properties];
        for (const step of steps.slice(0, -1)) containers.push(childAt(containers.at(-1), step));
        const ancestors = [value, ...containers];
        replaceChild(containers.at(-1), steps.at(-1)!, ancestors[pick % ancestors.length]);
        expectRejected(value, `properties${steps.map((step) => segment(step, filler)).join("")}`, /cycle/);
      }),
    );
  });
});

// ---- corruption ----

function expectCorrupted(encoded: string): void {
  expect(() => defaultSnapshotCodec.decode(encoded, keys)).toThrow(SnapshotCorruptedError);
}

describe("corruption", () => {
  const properties = { order: { id: "A-1", items: [{ sku: "é€😀", qty: 2, price: 9.99 }] }, when: new Date(0), tags: new Set(["x"]), big: 2n ** 80n };
  const encoded = defaultSnapshotCodec.encode(snapshot(properties, new Map([[1, -0]])));
  const bytes = new TextEncoder().encode(encoded);
  const decoder = new TextDecoder();

  it("detects every truncation, by characters and by UTF-8 bytes", () => {
    for (let length = 0; length < encoded.length; length++) expectCorrupted(encoded.slice(0, length));
    for (let length = 0; length < bytes.length; length++) expectCorrupted(decoder.decode(bytes.subarray(0, length)));
  });

  it("detects any single changed character", () => {
    // Same-width ASCII changes mostly, which only the checksum can catch; any code point too.
    const character = fc.oneof(fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }), fc.string({ unit: "binary", minLength: 1, maxLength: 1 }));
    fc.assert(
      fc.property(fc.nat({ max: encoded.length - 1 }), character, (at, replacement) => {
        fc.pre(replacement !== encoded[at]);
        expectCorrupted(encoded.slice(0, at) + replacement + encoded.slice(at + 1));
      }),
      { numRuns: 1000 },
    );
  });

  it("detects any single changed byte of the stored UTF-8", () => {
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const altered = bytes.slice();
        altered[at]! ^= flip;
        expectCorrupted(decoder.decode(altered));
      }),
      { numRuns: 1000 },
    );
  });
});
