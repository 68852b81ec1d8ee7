import { describe, expect, it } from "vitest";
import { SnapshotCorruptedError, type SnapshotCodec } from "../../../src/persistence/index.js";
import { decodeFromStorage } from "../../../src/persistence/providers/stored.js";

const keys = { foundryExecutionId: "order-1", workflowId: "Orders" };
const throwing = (error: Error): SnapshotCodec => ({ encode: () => "", decode: () => { throw error; } });

describe("decodeFromStorage", () => {
  it("reports a codec failure as a corrupted record", () => {
    expect(() => decodeFromStorage(throwing(new SyntaxError("Unexpected token")), "junk", keys)).toThrow(SnapshotCorruptedError);
  });

  it("lets a stack overflow of the caller through: the record is not damaged", () => {
    const overflow = new RangeError("Maximum call stack size exceeded");
    expect(() => decodeFromStorage(throwing(overflow), "{}", keys)).toThrow(overflow);
  });
});
