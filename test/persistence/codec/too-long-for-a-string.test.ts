import { afterEach, describe, expect, it, vi } from "vitest";
import { SnapshotSerializationError, SnapshotTooLargeError, createSnapshotCodec, defaultSnapshotCodec, encodeValue, type SnapshotCodec, type WorkflowExecutionSnapshot } from "../../../src/persistence/index.js";
import { codecKeys, codecSnapshot } from "../codec-snapshots.js";

// A text longer than V8's longest string (2^29 - 24 characters) takes more memory than a test
// should, so JSON.stringify is made to fail as V8 then does, on any text longer than `limit`.
const limit = 200_000;
const stringify = JSON.stringify;

function withStringLimit(run: () => void): void {
  vi.spyOn(JSON, "stringify").mockImplementation(((value: unknown) => {
    const text = stringify(value);
    if (text !== undefined && text.length > limit) throw new RangeError("Invalid string length");
    return text;
  }) as typeof JSON.stringify);
  try {
    run();
  } finally {
    vi.restoreAllMocks();
  }
}

function encodeError(codec: SnapshotCodec, snapshot: WorkflowExecutionSnapshot): unknown {
  let error: unknown;
  withStringLimit(() => {
    try {
      codec.encode(snapshot);
    } catch (thrown) {
      error = thrown;
    }
  });
  return error;
}

const unlimited = createSnapshotCodec({ maxSnapshotBytes: Infinity });
// A budget the mocked limit's texts exceed: a snapshot within its budget is no size problem.
const budgeted = createSnapshotCodec({ maxSnapshotBytes: 100_000 });
const bytes = (text: string): number => Buffer.byteLength(text, "utf8");
// Escaping doubles the quotes, so the text outgrows the limit only once it is escaped.
const big = '"'.repeat(limit / 2 + 1) + "é€😀\u0001\ud800";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("a snapshot whose encoding is longer than a string can be", () => {
  it("is refused with SnapshotTooLargeError giving its exact size and largest properties, whatever the budget", () => {
    const snapshot = codecSnapshot({ big, note: "n".repeat(1000), count: 1 }, { timeline: "0,4,1;4,,1" });
    const sizes = { whole: bytes(unlimited.encode(snapshot)), big: bytes(encodeValue(big)), note: bytes(encodeValue(snapshot.properties.note)) };
    for (const codec of [budgeted, createSnapshotCodec({ maxSnapshotBytes: 150_000 })]) {
      const error = encodeError(codec, snapshot);
      expect(error).toBeInstanceOf(SnapshotTooLargeError);
      const tooLarge = error as SnapshotTooLargeError;
      expect([tooLarge.code, tooLarge.keys, tooLarge.bytes]).toEqual(["SNAPSHOT_TOO_LARGE", codecKeys, sizes.whole]);
      // The budget, or the longest string the runtime holds where that is larger (never "Infinity").
      expect(tooLarge.maxBytes).toBe(codec === budgeted ? 100_000 : 150_000);
      expect(tooLarge.largestProperties).toEqual([{ key: "big", bytes: sizes.big }, { key: "note", bytes: sizes.note }, { key: "count", bytes: 1 }]);
      expect(tooLarge.message).toContain(`largest properties: "big" (${sizes.big} bytes)`);
    }
  });

  it("is refused the same way when the too long text is written by the tagged walk, and names a large last output", () => {
    const properties = { when: new Date(0), list: new Map([["k", [undefined, big]]]), set: new Set([1n]) };
    const snapshot = codecSnapshot(properties, { lastOutput: big, outputs: { 0: { text: big, at: new Date(1) } } });
    const expected = {
      whole: bytes(unlimited.encode(snapshot)),
      list: bytes(encodeValue(properties.list)),
      outputBytes: { lastOutput: bytes(encodeValue(big)), outputs: bytes(encodeValue(snapshot.outputs?.[0])) },
    };
    const error = encodeError(budgeted, snapshot) as SnapshotTooLargeError;
    expect(error).toBeInstanceOf(SnapshotTooLargeError);
    expect(error.bytes).toBe(expected.whole);
    expect(error.largestProperties[0]).toEqual({ key: "list", bytes: expected.list });
    expect(error.outputBytes).toEqual(expected.outputBytes);
  });

  it("still refuses a value that cannot be stored with SnapshotSerializationError when the text fits", () => {
    const error = encodeError(unlimited, codecSnapshot({ small: "s".repeat(100), callback: () => 1 }));
    expect(error).toBeInstanceOf(SnapshotSerializationError);
    expect((error as SnapshotSerializationError).path).toBe("properties.callback");
    const other = encodeError(unlimited, codecSnapshot({ odd: { get value(): never { throw new RangeError("out of range") } } }));
    expect(other).toBeInstanceOf(SnapshotSerializationError);
    // A getter of the user's own that throws the very RangeError V8 throws for a too long string: the snapshot is small, so it is refused at its path.
    // Whatever the budget: a snapshot that measures within the runtime's limit cannot be too long for it.
    for (const codec of [defaultSnapshotCodec, unlimited]) {
      const lazy = encodeError(codec, codecSnapshot({ report: { get text(): never { throw new RangeError("Invalid string length") } } }));
      expect(lazy).toBeInstanceOf(SnapshotSerializationError);
      expect((lazy as SnapshotSerializationError).path).toBe("properties.report.text");
    }
  });
});
