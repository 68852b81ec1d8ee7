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

type Step = { readonly kind: "key"; readonly key: string } | { readonly kind: "index"; readonly index: number } | { readonly kind: "map"; readonly key: string };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  keyArbitrary.map((key) => ({ kind: "key" as const, key })),
  fc.nat({ max: 4 }).map((index) => ({ kind: "index" as const, index })),
  keyArbitrary.map((key) => ({ kind: "map" as const, key })),
);

function segment(step: Step): string {
  if (step.kind === "index") return `[${step.index}]`;
  if (step.kind === "map") return `<${JSON.stringify(step.key)}>`;
  return /^[A-Za-z_$][\w$]*$/.test(step.key) ? `.${step.key}` : `[${JSON.stringify(step.key)}]`;
}

/** Wraps `inner` in one container per step (innermost last), among supported filler values. */
function plant(inner: unknown, steps: readonly Step[], filler: readonly unknown[]): unknown {
  return steps.reduceRight<unknown>((child, step) => {
    if (step.kind === "index") {
      const array = [...filler, ...filler, ...filler, ...filler, ...filler].slice(0, step.index);
      while (array.length < step.index) array.push(null);
      return [...array, child, ...filler];
    }
    if (step.kind === "map") return new Map([...filler.map((item, i): [unknown, unknown] => [`filler ${i}`, item]), [step.key, child]]);
    const record: Record<string, unknown> = Object.fromEntries(filler.map((item, i) => [`filler${i}`, item]));
    Object.defineProperty(record, step.key, { value: child, enumerable: true, writable: true, configurable: true });
    return record;
  }, inner);
}

describe("rejection", () => {
  it("names exactly the path where a function or symbol was planted", () => {
    const bad = fc.constantFrom<unknown>(() => 1, Symbol("bad"), function named() {});
    fc.assert(
      fc.property(keyArbitrary, fc.array(stepArbitrary, { maxLength: 5 }), fc.array(valueArbitrary, { maxLength: 3 }), bad, (first, steps, filler, planted) => {
        const all: Step[] = [{ kind: "key", key: first }, ...steps];
        const properties = plant(planted, all, filler) as Record<string, unknown>;
        const written: string[] = [];
        try {
          written.push(defaultSnapshotCodec.encode(snapshot(properties)));
        } catch (error) {
          expect(error).toBeInstanceOf(SnapshotSerializationError);
          expect((error as SnapshotSerializationError).path).toBe(`properties${all.map(segment).join("")}`);
        }
        expect(written).toEqual([]);
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
