import { describe, expect, it } from "vitest";
import { SnapshotSerializationError, encodeValue } from "../../../src/persistence/index.js";

// A typed array or ArrayBuffer whose memory was transferred away (postMessage, structuredClone
// with `transfer`) has no bytes left to store.
function detachedView(): Uint8Array {
  const bytes = new Uint8Array(8);
  structuredClone(bytes.buffer, { transfer: [bytes.buffer] });
  return bytes;
}

function detachedBuffer(): ArrayBuffer {
  const buffer = new ArrayBuffer(8);
  structuredClone(buffer, { transfer: [buffer] });
  return buffer;
}

function serializationError(run: () => unknown): SnapshotSerializationError {
  let error: unknown;
  try {
    run();
  } catch (thrown) {
    error = thrown;
  }
  expect(error).toBeInstanceOf(SnapshotSerializationError);
  return error as SnapshotSerializationError;
}

describe("encodeValue of a detached binary value", () => {
  it("throws SnapshotSerializationError at the top level, with the reason it gives nested", () => {
    for (const detached of [detachedView, detachedBuffer]) {
      const nested = serializationError(() => encodeValue({ value: detached() }, "properties"));
      expect(nested.path).toBe("properties.value");
      const top = serializationError(() => encodeValue(detached()));
      expect([top.path, top.reason, top.code]).toEqual(["", nested.reason, "SNAPSHOT_SERIALIZATION"]);
      expect(serializationError(() => encodeValue(detached(), "payload")).path).toBe("payload");
    }
  });
});
