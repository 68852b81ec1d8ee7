import { afterEach, describe, expect, it, vi } from "vitest";
import {
  SnapshotCorruptedError,
  SnapshotSerializationError,
  SnapshotTooLargeError,
  createSnapshotCodec,
  decodeValue,
  defaultSnapshotCodec,
  encodeValue,
  type SnapshotCodec,
  type WorkflowExecutionSnapshot,
} from "../../src/persistence/index.js";
import { checksumText, hex32 } from "../../src/persistence/codec/checksum.js";
import { decodeFromStorage, encodeForStorage } from "../../src/persistence/providers/stored.js";
import { codecKeys, codecSnapshot } from "./codec-snapshots.js";

const keys = codecKeys;
const snapshot = codecSnapshot;

const roundTrip = <T>(value: T): T => decodeValue(encodeValue(value)) as T;

/** Wraps a body in a valid envelope, so only what is inside can be wrong. */
function envelope(body: string): string {
  const { crc, bytes } = checksumText(body);
  return `wf1:${hex32(crc)}:${bytes}:${body}`;
}

/** Runs `encode` the way a provider would, collecting what would have been written. */
function writesOf(codec: SnapshotCodec, value: WorkflowExecutionSnapshot): { written: string[]; error: unknown } {
  const written: string[] = [];
  try {
    written.push(codec.encode(value));
    return { written, error: undefined };
  } catch (error) {
    return { written, error };
  }
}

function rejection(properties: Record<string, unknown>): SnapshotSerializationError {
  const { written, error } = writesOf(defaultSnapshotCodec, snapshot(properties));
  expect(written).toEqual([]);
  expect(error).toBeInstanceOf(SnapshotSerializationError);
  return error as SnapshotSerializationError;
}

function corruption(encoded: unknown): SnapshotCorruptedError {
  let error: unknown;
  try {
    defaultSnapshotCodec.decode(encoded as string, keys);
  } catch (thrown) {
    error = thrown;
  }
  expect(error).toBeInstanceOf(SnapshotCorruptedError);
  expect((error as SnapshotCorruptedError).keys).toEqual(keys);
  expect((error as SnapshotCorruptedError).message).toContain('instance "order-42" / workflow "ProcessOrder-v1"');
  return error as SnapshotCorruptedError;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("encodeValue / decodeValue", () => {
  it("leaves ordinary JSON values as plain JSON and round-trips them", () => {
    const value = { s: "text \"quoted\" \n é 😀", n: 12.5, i: -3, t: true, f: false, z: null, list: [1, "a", [null], { deep: { er: 0 } }] };
    expect(JSON.parse(encodeValue(value))).toStrictEqual(value);
    expect(roundTrip(value)).toStrictEqual(value);
  });

  it("round-trips NaN, Infinity, -Infinity and -0 exactly", () => {
    const decoded = roundTrip({ nan: NaN, inf: Infinity, ninf: -Infinity, nzero: -0, zero: 0, list: [-0, NaN] });
    expect(Object.is(decoded.nan, NaN)).toBe(true);
    expect(decoded.inf).toBe(Infinity);
    expect(decoded.ninf).toBe(-Infinity);
    expect(Object.is(decoded.nzero, -0)).toBe(true);
    expect(Object.is(decoded.zero, 0)).toBe(true);
    expect(Object.is(decoded.list[0], -0)).toBe(true);
    expect(Object.is(roundTrip(-0), -0)).toBe(true);
  });

  it("keeps undefined as a present property and as an array element", () => {
    const decoded = roundTrip({ gone: undefined, list: [undefined, 1, undefined] });
    expect(Object.keys(decoded)).toEqual(["gone", "list"]);
    expect(decoded.gone).toBeUndefined();
    expect(decoded.list).toStrictEqual([undefined, 1, undefined]);
    expect(roundTrip(undefined)).toBeUndefined();
  });

  it("turns array holes into undefined elements", () => {
    // eslint-disable-next-line no-sparse-arrays
    const decoded = roundTrip([1, , 3]);
    expect(decoded).toHaveLength(3);
    expect(1 in decoded).toBe(true);
    expect(decoded[1]).toBeUndefined();
  });

  it("round-trips BigInt", () => {
    expect(roundTrip([0n, -1n, 2n ** 100n, -(2n ** 70n)])).toStrictEqual([0n, -1n, 2n ** 100n, -(2n ** 70n)]);
  });

  it("round-trips valid and invalid Dates", () => {
    const [valid, invalid, far] = roundTrip([new Date("2024-02-29T12:34:56.789Z"), new Date(NaN), new Date(8.64e15)]);
    expect(valid).toBeInstanceOf(Date);
    expect(valid.getTime()).toBe(Date.UTC(2024, 1, 29, 12, 34, 56, 789));
    expect(invalid).toBeInstanceOf(Date);
    expect(Number.isNaN(invalid.getTime())).toBe(true);
    expect(far.getTime()).toBe(8.64e15);
  });

  it("round-trips Maps with keys of any type, in order", () => {
    const objectKey = { id: 1 };
    const map = new Map<unknown, unknown>([
      ["a", 1],
      [2, "two"],
      [NaN, "nan"],
      [undefined, null],
      [10n, new Map([["inner", new Set([1])]])],
      [objectKey, [new Date(0)]],
    ]);
    const decoded = roundTrip(map);
    expect(decoded).toBeInstanceOf(Map);
    expect([...decoded.keys()].slice(0, 5)).toStrictEqual(["a", 2, NaN, undefined, 10n]);
    expect(decoded).toStrictEqual(map);
  });

  it("round-trips Sets, in order", () => {
    const set = new Set<unknown>([3, "x", { a: 1 }, [1n], NaN]);
    expect(roundTrip(set)).toStrictEqual(set);
    expect([...roundTrip(set)][0]).toBe(3);
  });

  it("round-trips a RegExp's source and flags", () => {
    for (const re of [/a+b/gi, /^\/[\]]$/msuy, new RegExp("", "d")]) {
      const decoded = roundTrip(re);
      expect(decoded).toBeInstanceOf(RegExp);
      expect([decoded.source, decoded.flags]).toEqual([re.source, re.flags]);
    }
  });

  it("round-trips Errors with name, message, stack and cause; subclasses keep their name", () => {
    class PaymentDeclined extends Error {
      override name = "PaymentDeclined";
    }
    const original = new PaymentDeclined("card refused", { cause: new TypeError("bad card", { cause: { code: 7 } }) });
    const decoded = roundTrip(original);
    expect(decoded).toBeInstanceOf(Error);
    expect([decoded.name, decoded.message, decoded.stack]).toEqual(["PaymentDeclined", "card refused", original.stack]);
    const cause = decoded.cause as TypeError;
    expect(cause).toBeInstanceOf(TypeError);
    expect([cause.name, cause.message, cause.stack, cause.cause]).toEqual(["TypeError", "bad card", (original.cause as Error).stack, { code: 7 }]);
    expect("cause" in roundTrip(new Error("plain"))).toBe(false);
    expect(Object.hasOwn(roundTrip(new Error("undefined cause", { cause: undefined })), "cause")).toBe(true);
  });

  it("round-trips every typed array, DataView and ArrayBuffer, views at an offset included", () => {
    const views = [
      new Int8Array([-1, 2]),
      new Uint8Array([0, 255, 7]),
      new Uint8ClampedArray([0, 255]),
      new Int16Array([-300, 300]),
      new Uint16Array([65535]),
      new Int32Array([-(2 ** 31)]),
      new Uint32Array([2 ** 32 - 1]),
      new Float32Array([1.5, NaN, -0]),
      new Float64Array([Math.PI, -Infinity, -0]),
      new BigInt64Array([-(2n ** 63n)]),
      new BigUint64Array([2n ** 64n - 1n]),
      new Uint8Array([9, 8, 7, 6, 5]).subarray(1, 4),
      new Uint8Array(0),
    ];
    for (const view of views) expect(roundTrip(view)).toStrictEqual(view);
    const dataView = roundTrip(new DataView(new Uint8Array([1, 2, 3]).buffer, 1));
    expect(dataView).toBeInstanceOf(DataView);
    expect([...new Uint8Array(dataView.buffer)]).toEqual([2, 3]);
    expect(new Uint8Array(roundTrip(new Uint8Array([4, 5, 6, 7]).buffer))).toStrictEqual(new Uint8Array([4, 5, 6, 7]));
  });

  it("decodes a Buffer as a Buffer, or as a Uint8Array where the runtime has no Buffer", () => {
    const encoded = encodeValue(Buffer.from("héllo"));
    const decoded = decodeValue(encoded);
    expect(Buffer.isBuffer(decoded)).toBe(true);
    expect((decoded as Buffer).toString()).toBe("héllo");
    vi.stubGlobal("Buffer", undefined);
    const bare = decodeValue(encoded);
    vi.unstubAllGlobals();
    expect(Buffer.isBuffer(bare)).toBe(false);
    expect(bare).toStrictEqual(new Uint8Array(Buffer.from("héllo")));
  });

  it("decodes null-prototype objects as plain objects", () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, nested: Object.assign(Object.create(null) as object, { b: -0 }) });
    const decoded = roundTrip(bare);
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(decoded).toEqual({ a: 1, nested: { b: -0 } });
  });

  it("escapes an object with its own \"$wf\" key so it is never read as a tag", () => {
    const lookalike = { $wf: "date", v: "2024-01-01T00:00:00.000Z", inner: { $wf: "undef" } };
    expect(roundTrip(lookalike)).toStrictEqual(lookalike);
    expect(roundTrip([{ $wf: "obj", v: [] }])).toStrictEqual([{ $wf: "obj", v: [] }]);
  });

  it("writes a shared reference once per reference: it comes back as equal copies", () => {
    const shared = { a: 1 };
    const decoded = roundTrip({ x: shared, y: shared, list: [shared] });
    expect(decoded.x).toStrictEqual(shared);
    expect(decoded.y).toStrictEqual(shared);
    expect(decoded.x).not.toBe(decoded.y);
  });

  it("round-trips keys of any characters as own properties", () => {
    const value: Record<string, unknown> = {};
    for (const key of ["", "__proto__", "constructor", "prototype", "a.b", "with space", "😀", "\u0000", "0", "$wf$"]) {
      Object.defineProperty(value, key, { value: { key }, enumerable: true, writable: true, configurable: true });
    }
    const decoded = roundTrip({ value, undef: { __proto__x: undefined } }).value;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.keys(decoded)).toEqual(Object.keys(value));
    for (const key of Object.keys(value)) expect(Object.getOwnPropertyDescriptor(decoded, key)?.value).toStrictEqual({ key });
  });

  it("ignores symbol-keyed properties", () => {
    expect(roundTrip({ a: 1, [Symbol("hidden")]: 2 })).toStrictEqual({ a: 1 });
  });
});

describe("encode rejects what it cannot store, before anything is written", () => {
  it("names the exact path of a function: properties.order.items[3].price", () => {
    const error = rejection({ order: { items: [{}, {}, {}, { price: () => 9.99 }] } });
    expect(error.path).toBe("properties.order.items[3].price");
    expect(error.message).toContain("cannot serialise properties.order.items[3].price: functions cannot be stored");
    expect(error.message).toContain('save failed for instance "order-42" / workflow "ProcessOrder-v1"');
    expect([error.code, error.call, error.keys]).toEqual(["SNAPSHOT_SERIALIZATION", "save", keys]);
  });

  it("rejects a symbol value", () => {
    expect(rejection({ tags: ["a", Symbol("b")] }).path).toBe("properties.tags[1]");
  });

  it("rejects a class instance, naming the class", () => {
    class Customer {
      name = "Ada";
    }
    const error = rejection({ "the customer": new Customer() });
    expect(error.path).toBe('properties["the customer"]');
    expect(error.message).toContain("class Customer");
  });

  it("names an anonymous class as such, and an object made by Object.create as having a custom prototype", () => {
    expect(rejection({ a: new (class {})() }).message).toContain("instances of class (anonymous) cannot be stored");
    const made = rejection({ m: Object.create({ kind: "template" }) as object });
    expect(made.path).toBe("properties.m");
    expect(made.message).toContain("objects with a custom prototype cannot be stored");
  });

  it("names the object itself when listing its keys throws (a Proxy's ownKeys trap), not a key it never read", () => {
    const hostile = new Proxy({}, { ownKeys: () => { throw new Error("revoked"); } });
    const error = rejection({ a: hostile });
    expect(error.path).toBe("properties.a");
    expect(error.message).toContain("revoked");
  });

  it("rejects subclasses of Map and Array, which would not come back as themselves", () => {
    class Registry extends Map {}
    class List extends Array {}
    expect(rejection({ r: new Registry() }).path).toBe("properties.r");
    expect(rejection({ l: new List() }).path).toBe("properties.l");
  });

  it("rejects a cycle at the reference that closes it", () => {
    const node: Record<string, unknown> = { next: { value: 1 } };
    (node.next as Record<string, unknown>).back = node;
    const error = rejection({ node });
    expect(error.path).toBe("properties.node.next.back");
    expect(error.message).toContain("cycle");
  });

  it("rejects a WeakMap, a WeakSet and a Promise, inside Maps and Sets too", () => {
    expect(rejection({ cache: new Map([["k", new WeakMap()]]) }).path).toBe('properties.cache<"k">');
    expect(rejection({ seen: new Set([1, new WeakSet()]) }).path).toBe("properties.seen<#1>");
    expect(rejection({ pending: Promise.resolve(1) }).message).toContain("a Promise cannot be stored");
    expect(rejection({ m: new Map([[{ id: 1 }, () => 0]]) }).path).toBe("properties.m<#0>");
    expect(rejection({ m: new Map([[{ f: () => 0 }, 1]]) }).path).toBe("properties.m<key #0>.f");
  });

  it("names the path through an Error's cause", () => {
    expect(rejection({ failure: new Error("x", { cause: { retry: () => 0 } }) }).path).toBe("properties.failure.cause.retry");
  });

  it("reports a throwing getter with its path and the thrown error as cause", () => {
    const thrown = new Error("no access");
    const error = rejection({
      get secret(): never {
        throw thrown;
      },
    });
    expect([error.path, error.cause]).toEqual(["properties.secret", thrown]);
  });

  it("encodeValue prefixes the path it is given, and names the value itself when there is none", () => {
    expect(() => encodeValue({ a: [() => 0] }, "output")).toThrow(expect.objectContaining({ path: "output.a[0]" }) as Error);
    const error = (() => {
      try {
        encodeValue(Symbol("s"));
      } catch (thrown) {
        return thrown as SnapshotSerializationError;
      }
    })();
    expect(error).toBeInstanceOf(SnapshotSerializationError);
    expect([error?.path, error?.message]).toEqual(["", "[workflowforge:persistence] cannot serialise the value: symbols cannot be stored"]);
  });
});

describe("decoding never pollutes a prototype", () => {
  it("keeps __proto__, constructor and prototype keys as own properties", () => {
    const text = '{"__proto__":{"polluted":1,"x":{"$wf":"undef"}},"constructor":{"prototype":{"polluted":2}},"t":{"$wf":"undef"}}';
    const decoded = decodeValue(text) as Record<string, any>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.keys(decoded)).toEqual(["__proto__", "constructor", "t"]);
    expect(Object.getOwnPropertyDescriptor(decoded, "__proto__")?.value).toStrictEqual({ polluted: 1, x: undefined });
    expect(decoded.constructor).toStrictEqual({ prototype: { polluted: 2 } });
  });

  it("keeps them own inside escaped objects and Maps", () => {
    const decoded = decodeValue('[{"$wf":"obj","v":[["$wf",1],["__proto__",{"polluted":3}]]},{"$wf":"map","v":[["__proto__",{"polluted":4}]]}]') as [object, Map<string, unknown>];
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(decoded[0])).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(decoded[0], "__proto__")?.value).toStrictEqual({ polluted: 3 });
    expect(decoded[1].get("__proto__")).toStrictEqual({ polluted: 4 });
  });

  it("rejects unknown and malformed tags as corrupted", () => {
    for (const text of ['{"$wf":"nope"}', '{"$wf":"num","v":"1"}', '{"$wf":"bigint","v":"1.5"}', '{"$wf":"bytes","t":"Object","v":""}', '{"$wf":"map","v":[1]}', "{"]) {
      expect(() => decodeValue(text)).toThrow(SnapshotCorruptedError);
    }
  });
});

describe("the envelope", () => {
  const rich = snapshot({ note: "héllo 😀", when: new Date(0), ids: new Set([1n]), gone: undefined });

  it("starts with wf1:<crc32>:<UTF-8 length of the body>: and decodes back to the snapshot", () => {
    const encoded = defaultSnapshotCodec.encode(rich);
    const [, crc, length, body] = /^wf1:([0-9a-f]{8}):(\d+):(.*)$/s.exec(encoded) ?? [];
    expect(Number(length)).toBe(Buffer.byteLength(body!, "utf8"));
    expect(crc).toBe(hex32(checksumText(body!).crc));
    expect(defaultSnapshotCodec.decode(encoded, keys)).toStrictEqual(rich);
  });

  it("round-trips the timeline and the annotations, and rejects a decoded timeline that is not one", () => {
    const withBoth = snapshot({}, { timeline: "0,10,1;15,,2;,,0", annotations: { "otel.traceparent": "00-abc-def-01" } });
    expect(defaultSnapshotCodec.decode(defaultSnapshotCodec.encode(withBoth), keys)).toStrictEqual(withBoth);
    const broken = snapshot({}, { timeline: "0,10,1;15,,two" });
    expect(corruption(defaultSnapshotCodec.encode(broken)).message).toContain("timeline is not");
  });

  it("detects a truncated record", () => {
    const encoded = defaultSnapshotCodec.encode(rich);
    for (const cut of [0, 3, 20, encoded.length - 1]) corruption(encoded.slice(0, cut));
    expect(corruption(encoded.slice(0, -1)).message).toContain("truncated");
  });

  it("detects an altered character", () => {
    const encoded = defaultSnapshotCodec.encode(snapshot({ amount: 100 }));
    expect(corruption(encoded.replace('"amount":100', '"amount":900')).message).toContain("checksum mismatch");
  });

  it("rejects a missing or wrong header", () => {
    const body = encodeValue(snapshot());
    for (const text of [body, `wf2:${envelope(body).slice(4)}`, envelope(body).toUpperCase(), "", "wf1:", "wf1:0000000g:2:{}"]) {
      expect(corruption(text).message).toContain("header");
    }
  });

  it("rejects a lone surrogate in the body, which UTF-8 storage could not tell from U+FFFD", () => {
    const encoded = defaultSnapshotCodec.encode(snapshot({ note: "\ufffd" }));
    expect(corruption(encoded.replace("\ufffd", "\ud800")).message).toContain("lone surrogate");
  });

  it("rejects what is not a string", () => {
    for (const value of [null, undefined, 42, Buffer.from(defaultSnapshotCodec.encode(snapshot())), {}]) {
      expect(corruption(value).message).toContain("expected encoded text");
    }
  });

  it("rejects an intact envelope around formatVersion 2", () => {
    expect(corruption(envelope(encodeValue(snapshot({}, { formatVersion: 2 })))).message).toContain("unknown formatVersion 2");
  });

  it("rejects an intact envelope around a snapshot of other keys, a non-snapshot or a malformed body", () => {
    expect(corruption(envelope(encodeValue(snapshot({}, { workflowId: "Other" })))).message).toContain("other keys");
    expect(corruption(envelope("[1,2]")).message).toContain("expected an object");
    const malformed = corruption(envelope('{"formatVersion":1,'));
    expect(malformed.cause).toBeInstanceOf(SyntaxError);
  });
});

describe("maxSnapshotBytes", () => {
  const properties = { a: "x".repeat(600), b: "€".repeat(300), c: [1, 2, 3], d: "y".repeat(100), e: { big: "z".repeat(700) }, f: 1, g: true };

  it("raises SnapshotTooLargeError listing the 5 largest properties by encoded size", () => {
    const codec = createSnapshotCodec({ maxSnapshotBytes: 1000 });
    const { written, error } = writesOf(codec, snapshot(properties));
    expect(written).toEqual([]);
    expect(error).toBeInstanceOf(SnapshotTooLargeError);
    const tooLarge = error as SnapshotTooLargeError;
    const size = (key: keyof typeof properties): number => Buffer.byteLength(encodeValue(properties[key]), "utf8");
    expect(tooLarge.largestProperties).toEqual([
      { key: "b", bytes: size("b") },
      { key: "e", bytes: size("e") },
      { key: "a", bytes: size("a") },
      { key: "d", bytes: size("d") },
      { key: "c", bytes: size("c") },
    ]);
    expect(tooLarge.bytes).toBe(Buffer.byteLength(createSnapshotCodec({ maxSnapshotBytes: Infinity }).encode(snapshot(properties)), "utf8"));
    expect([tooLarge.maxBytes, tooLarge.code, tooLarge.call, tooLarge.keys]).toEqual([1000, "SNAPSHOT_TOO_LARGE", "save", keys]);
    expect(tooLarge.message).toContain(`over maxSnapshotBytes 1000; largest properties: "b" (${size("b")} bytes), "e" (${size("e")} bytes)`);
  });

  it("says what the last output and the restore data take, when an operation's output is what outgrew the budget", () => {
    const codec = createSnapshotCodec({ maxSnapshotBytes: 1000 });
    const big = { ...snapshot({ note: "n" }), lastOutput: "x".repeat(2_000), outputs: { 0: "y".repeat(10), 1: { id: "R-1" } } };
    const error = rejectionOfSync(() => codec.encode(big));
    expect(error).toBeInstanceOf(SnapshotTooLargeError);
    const sizes = { lastOutput: Buffer.byteLength(encodeValue(big.lastOutput)), outputs: Buffer.byteLength(encodeValue(big.outputs[0])) + Buffer.byteLength(encodeValue(big.outputs[1])) };
    expect((error as SnapshotTooLargeError).outputBytes).toEqual(sizes);
    expect((error as Error).message).toContain(`; the last output: ${sizes.lastOutput} bytes, restore data of completed operations: ${sizes.outputs} bytes`);
    expect((rejectionOfSync(() => codec.encode(snapshot(properties))) as SnapshotTooLargeError).outputBytes).toBeUndefined();
  });

  it("counts UTF-8 bytes, and a snapshot of exactly the budget passes", () => {
    const value = snapshot({ text: "€😀".repeat(50) });
    const bytes = Buffer.byteLength(defaultSnapshotCodec.encode(value), "utf8");
    expect(bytes).toBeGreaterThan(defaultSnapshotCodec.encode(value).length);
    expect(() => createSnapshotCodec({ maxSnapshotBytes: bytes }).encode(value)).not.toThrow();
    expect(() => createSnapshotCodec({ maxSnapshotBytes: bytes - 1 }).encode(value)).toThrow(SnapshotTooLargeError);
  });

  it("defaults to 4 MiB", () => {
    expect(() => defaultSnapshotCodec.encode(snapshot({ blob: "x".repeat(4 * 1024 * 1024) }))).toThrow(SnapshotTooLargeError);
    expect(() => defaultSnapshotCodec.encode(snapshot({ blob: "x".repeat(4 * 1024 * 1024 - 1000) }))).not.toThrow();
  });
});

describe("createSnapshotCodec", () => {
  it("throws TypeError for invalid options", () => {
    for (const options of [{ maxSnapshotBytes: 0 }, { maxSnapshotBytes: -1 }, { maxSnapshotBytes: 1.5 }, { maxSnapshotBytes: NaN }, { maxSnapshotBytes: "10" }, { maxBytes: 10 }, null, 5]) {
      expect(() => createSnapshotCodec(options as never)).toThrow(TypeError);
    }
  });

  it("accepts no options, empty options, a positive integer and Infinity", () => {
    for (const options of [undefined, {}, { maxSnapshotBytes: 1 }, { maxSnapshotBytes: Infinity }, { maxSnapshotBytes: undefined }]) {
      expect(() => createSnapshotCodec(options as never)).not.toThrow();
    }
  });
});

describe("encodeForStorage / decodeFromStorage", () => {
  const failing: SnapshotCodec = {
    encode: () => {
      throw new RangeError("encoder broke");
    },
    decode: () => {
      throw new SyntaxError("decoder broke");
    },
  };

  it("pass the built-in codec's text and errors through", () => {
    const encoded = encodeForStorage(defaultSnapshotCodec, snapshot({ a: 1 }));
    expect(decodeFromStorage(defaultSnapshotCodec, encoded, keys)).toStrictEqual(snapshot({ a: 1 }));
    expect(() => encodeForStorage(defaultSnapshotCodec, snapshot({ f: () => 0 }))).toThrow(SnapshotSerializationError);
    expect(() => decodeFromStorage(defaultSnapshotCodec, "junk", keys)).toThrow(SnapshotCorruptedError);
  });

  it("wrap a custom codec's failures, naming the keys with the original as cause", () => {
    const encodeError = (() => {
      try {
        encodeForStorage(failing, snapshot());
      } catch (error) {
        return error as SnapshotSerializationError;
      }
    })();
    expect(encodeError).toBeInstanceOf(SnapshotSerializationError);
    expect([encodeError?.keys, (encodeError?.cause as Error).message]).toEqual([keys, "encoder broke"]);
    expect(() => decodeFromStorage(failing, "x", keys)).toThrow(expect.objectContaining({ keys, cause: expect.any(SyntaxError) }) as Error);
    expect(() => decodeFromStorage(failing, "x", keys)).toThrow(SnapshotCorruptedError);
  });

  it("reject a custom codec's encode that does not return a string", () => {
    expect(() => encodeForStorage({ ...failing, encode: () => 42 as never }, snapshot())).toThrow(/returned number, not a string/);
  });
});

function rejectionOfSync(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  return undefined;
}
