import { describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import { createFoundry } from "../../../src/index.js";
import { MemoryPersistenceProvider, SnapshotCorruptedError, SnapshotSerializationError, SnapshotTooLargeError, usePersistence, type SnapshotCodec } from "../../../src/persistence/index.js";
import { SqlitePersistenceProvider } from "../../../src/persistence/providers/sqlite.js";
import { decodeFromStorage, encodePayload } from "../../../src/persistence/providers/stored.js";

const keys = { foundryExecutionId: "order-1", workflowId: "Orders" };
const throwing = (error: Error): SnapshotCodec => ({ encode: () => "", decode: () => { throw error; } });

describe("decodeFromStorage", () => {
  it("reports a codec failure as a corrupted record", () => {
    expect(() => decodeFromStorage(throwing(new SyntaxError("Unexpected token")), "junk", keys)).toThrow(SnapshotCorruptedError);
  });

  it("reports a decode that returns no object (undefined for text it does not know) as a corrupted record, never as no record", () => {
    for (const decoded of [undefined, null, "text", 42]) {
      const codec: SnapshotCodec = { encode: () => "", decode: () => decoded as never };
      expect(() => decodeFromStorage(codec, "rotated key", keys)).toThrow(new SnapshotCorruptedError(keys, `the codec's decode returned ${decoded === null ? "null" : typeof decoded}, not a snapshot`));
    }
  });

  it("so a run whose record its codec no longer reads runs nothing again, on the memory and SQLite providers", async () => {
    const charges: string[] = [];
    let readable = true;
    const codec: SnapshotCodec = { encode: (snapshot) => JSON.stringify(snapshot), decode: (text) => (readable ? (JSON.parse(text) as never) : (undefined as never)) };
    for (const provider of [new MemoryPersistenceProvider({ codec }), new SqlitePersistenceProvider({ database: new Database(":memory:"), codec })]) {
      readable = true;
      const run = () =>
        usePersistence(createFoundry("Order", { executionId: "order-1" }), provider)
          .withOperation("charge", () => void charges.push("charge"))
          .withOperation("ship", () => {
            throw new Error("crash");
          });
      await expect(run().forge()).rejects.toThrow("crash");
      readable = false;
      await expect(run().forge()).rejects.toBeInstanceOf(SnapshotCorruptedError);
    }
    expect(charges).toEqual(["charge", "charge"]);
  });

  it("tells a payload's refusal in the payload's terms, keeping the codec's reason, and leaves a codec's own errors as they are", () => {
    const event = { foundryExecutionId: "cannot serialise lastOutput.amount: X", workflowId: "wf", name: "paid", eventId: "e-1", payload: { amount: 1 }, sentAt: new Date(0).toISOString() };
    const refusing = (error: Error): SnapshotCodec => ({ encode: () => { throw error; }, decode: () => ({}) as never });
    const serialisation = new SnapshotSerializationError({ keys, path: "lastOutput.amount", reason: "instances of class Money cannot be stored" });
    expect(() => encodePayload(refusing(serialisation), event)).toThrow(new SnapshotSerializationError({ path: "payload.amount", reason: "instances of class Money cannot be stored" }));
    const own = new SnapshotTooLargeError({ keys, bytes: 10, maxBytes: 5, largestProperties: [{ key: "lastOutput", bytes: 9 }] });
    expect(() => encodePayload(refusing(own), event)).toThrow(own);
    const sized = new SnapshotTooLargeError({ keys, bytes: 10, maxBytes: 5, largestProperties: [], outputBytes: { lastOutput: 9, outputs: 0 } });
    const told = (() => { try { encodePayload(refusing(sized), event); } catch (error) { return error as SnapshotTooLargeError; } })();
    expect([told?.payloadBytes, told?.outputBytes, told?.message.endsWith("; the event's payload: 9 bytes")]).toEqual([9, undefined, true]);
  });

  it("lets a stack overflow of the caller through: the record is not damaged", () => {
    const overflow = new RangeError("Maximum call stack size exceeded");
    expect(() => decodeFromStorage(throwing(overflow), "{}", keys)).toThrow(overflow);
  });
});
