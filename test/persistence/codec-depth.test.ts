import { describe, expect, it } from "vitest";
import {
  SnapshotCorruptedError,
  SnapshotSerializationError,
  decodeValue,
  defaultSnapshotCodec,
  encodeValue,
  type WorkflowExecutionSnapshot,
} from "../../src/persistence/index.js";
import { checksumText, hex32 } from "../../src/persistence/codec/checksum.js";
import { craft, documentedMaxDepth as max, levelsOf, nest, nestingKindNames, pathThrough } from "./codec-nesting.js";

const keys = { foundryExecutionId: "tree-7", workflowId: "BuildTree-v1" };

function snapshot(properties: Record<string, unknown>): WorkflowExecutionSnapshot {
  return {
    formatVersion: 1,
    ...keys,
    workflowName: "BuildTree",
    definitionFingerprint: "fnv1a:0000000000000000",
    operationCount: 1,
    nextOperationIndex: 0,
    properties,
    status: "running",
    revision: 1,
    createdAt: "2024-01-01T00:00:00.000Z",
    updatedAt: "2024-01-01T00:00:00.000Z",
  };
}

/** An intact envelope around a snapshot whose property `tree` is the hand-written `tree`. */
function recordWith(tree: string): string {
  const body = JSON.stringify(snapshot({ tree: "<tree>" })).replace('"<tree>"', tree);
  const { crc, bytes } = checksumText(body);
  return `wf1:${hex32(crc)}:${bytes}:${body}`;
}

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

// The snapshot is level 1 and `properties` level 2, so a property's value has max - 2 levels.
const propertyMax = max - 2;

describe.each(nestingKindNames)("nesting of %s", (kind) => {
  it("round-trips the deepest value encode accepts", () => {
    expect(levelsOf(kind, decodeValue(encodeValue(nest(kind, max))))).toEqual({ levels: max, leaf: "leaf" });
    const decoded = defaultSnapshotCodec.decode(defaultSnapshotCodec.encode(snapshot({ tree: nest(kind, propertyMax) })), keys);
    expect(levelsOf(kind, decoded.properties.tree)).toEqual({ levels: propertyMax, leaf: "leaf" });
  });

  it("refuses one level deeper at encode, naming the path of the container past the limit", () => {
    const value = thrown(() => encodeValue(nest(kind, max + 1)));
    expect(value).toBeInstanceOf(SnapshotSerializationError);
    expect((value as SnapshotSerializationError).path).toBe(pathThrough(kind, max));
    expect((value as SnapshotSerializationError).message).toContain(`nests deeper than ${max} levels`);

    const whole = thrown(() => defaultSnapshotCodec.encode(snapshot({ tree: nest(kind, propertyMax + 1) })));
    expect(whole).toBeInstanceOf(SnapshotSerializationError);
    expect((whole as SnapshotSerializationError).path).toBe(pathThrough(kind, propertyMax, "properties.tree"));
  });

  it("decodes a hand-written record at the limit and rejects one a level deeper as corrupted", () => {
    for (const leaf of ['"leaf"', '{"$wf":"undef"}']) {
      const expected = leaf === '"leaf"' ? "leaf" : undefined;
      expect(levelsOf(kind, decodeValue(craft(kind, max, leaf)))).toEqual({ levels: max, leaf: expected });
      const error = thrown(() => decodeValue(craft(kind, max + 1, leaf)));
      expect(error).toBeInstanceOf(SnapshotCorruptedError);
      expect((error as Error).message).toContain(`nests deeper than ${max} levels`);
    }
    expect(levelsOf(kind, defaultSnapshotCodec.decode(recordWith(craft(kind, propertyMax)), keys).properties.tree).levels).toBe(propertyMax);
    const error = thrown(() => defaultSnapshotCodec.decode(recordWith(craft(kind, propertyMax + 1)), keys));
    expect(error).toBeInstanceOf(SnapshotCorruptedError);
    expect((error as SnapshotCorruptedError).keys).toEqual(keys);
  });

  it("rejects a hand-written record nested far past any stack as corrupted, not with a stack overflow", () => {
    const error = thrown(() => defaultSnapshotCodec.decode(recordWith(craft(kind, 20_000)), keys));
    expect(error).toBeInstanceOf(SnapshotCorruptedError);
    expect((error as Error).message).toContain(`nests deeper than ${max} levels`);
    expect((error as Error).cause).not.toBeInstanceOf(RangeError);
  });
});

describe("the nesting limit", () => {
  it("counts containers of every kind together", () => {
    const mixed = (levels: number): unknown => {
      let value: unknown = "leaf";
      for (let i = 0; i < levels; i++) value = nest(nestingKindNames[i % nestingKindNames.length] ?? "object", 1, value);
      return value;
    };
    expect(() => decodeValue(encodeValue(mixed(max)))).not.toThrow();
    expect(thrown(() => encodeValue(mixed(max + 1)))).toBeInstanceOf(SnapshotSerializationError);
  });

  it("holds where plain JSON starts below other containers, the part JSON.stringify writes", () => {
    // 50 Maps, then plain objects, then { list: [1, 2] }: two more levels.
    const value = (plainLevels: number): unknown => nest("map", 50, nest("object", plainLevels, { list: [1, 2] }));
    expect(decodeValue(encodeValue(value(max - 52)))).toEqual(value(max - 52));
    const error = thrown(() => encodeValue(value(max - 51)));
    expect((error as SnapshotSerializationError).path).toBe('<"a">'.repeat(50) + ".a".repeat(max - 51) + ".list");
  });

  it("counts depth, not containers: any number may sit side by side", () => {
    const wide = (deepLevels: number): unknown => ({ deep: nest("object", deepLevels), wide: Array.from({ length: 300 }, (_, i) => ({ i, list: [i] })) });
    expect(decodeValue(encodeValue(wide(max - 1)))).toEqual(wide(max - 1));
    expect(decodeValue(JSON.stringify(wide(max - 1)))).toEqual(wide(max - 1));
    expect(thrown(() => encodeValue(wide(max)))).toBeInstanceOf(SnapshotSerializationError);
    expect(thrown(() => decodeValue(JSON.stringify(wide(max))))).toBeInstanceOf(SnapshotCorruptedError);
  });

  it("counts an empty container, on both sides", () => {
    expect(decodeValue(encodeValue(nest("array", max - 1, [])))).toEqual(nest("array", max - 1, []));
    expect(decodeValue(encodeValue(nest("object", max - 1, new Map())))).toEqual(nest("object", max - 1, new Map()));
    expect(thrown(() => encodeValue(nest("array", max, [])))).toBeInstanceOf(SnapshotSerializationError);
    expect(thrown(() => encodeValue(nest("object", max, new Map())))).toBeInstanceOf(SnapshotSerializationError);
    expect(thrown(() => decodeValue(craft("array", max + 1, "")))).toBeInstanceOf(SnapshotCorruptedError);
    expect(thrown(() => decodeValue(craft("object", max, '{"$wf":"set","v":[]}')))).toBeInstanceOf(SnapshotCorruptedError);
  });

  it("does not count leaves: a Date, a RegExp and bytes inside the deepest container", () => {
    const leaves = [new Date(0), /x/g, new Uint8Array([1, 2]), 10n, undefined];
    expect(decodeValue(encodeValue(nest("set", max - 1, leaves)))).toEqual(nest("set", max - 1, leaves));
  });
});

describe("where a value sits in the snapshot", () => {
  // docs/writing-a-provider.md: the last output may nest 99 levels, an output kept for a restore 98.
  const objects = (levels: number): unknown => {
    let value: unknown = "leaf";
    for (let level = 0; level < levels; level++) value = { c: value };
    return value;
  };
  const encode = (fields: Partial<WorkflowExecutionSnapshot>): string => defaultSnapshotCodec.encode({ ...snapshot({}), ...fields });

  it("gives the last output one level less than the snapshot, and an output kept for its restore two", () => {
    expect(typeof encode({ lastOutput: objects(max - 1) })).toBe("string");
    expect(thrown(() => encode({ lastOutput: objects(max) }))).toBeInstanceOf(SnapshotSerializationError);
    expect(typeof encode({ outputs: { 0: objects(max - 2) } })).toBe("string");
    expect(thrown(() => encode({ outputs: { 0: objects(max - 1) } }))).toBeInstanceOf(SnapshotSerializationError);
  });
});
