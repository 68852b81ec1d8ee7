import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SnapshotCorruptedError, defaultSnapshotCodec } from "../../src/persistence/index.js";
import { checksumText, hex32 } from "../../src/persistence/codec/checksum.js";
import { codecKeys, codecSnapshot } from "./codec-snapshots.js";

// The envelope wf1:<crc32>:<length>:<body> is read by hand; it must accept exactly the headers the
// format's grammar does, and tell the others from a body that is only damaged.

const keys = codecKeys;
const snapshot = codecSnapshot({ orderId: "A-1", note: "é € 😀" }, { timeline: "0,4,1;4,,1;,,0" });
const encoded = defaultSnapshotCodec.encode(snapshot);
const body = encoded.slice(encoded.indexOf(":", 13) + 1);
const { crc, bytes } = checksumText(body);

// The header grammar of the format.
const grammar = /^wf1:([0-9a-f]{8}):(0|[1-9][0-9]{0,15}):/;

function outcome(text: string): "decoded" | "header" | "other" {
  try {
    defaultSnapshotCodec.decode(text, keys);
    return "decoded";
  } catch (error) {
    expect(error).toBeInstanceOf(SnapshotCorruptedError);
    return (error as Error).message.includes('does not start with a "wf1:<crc32>:<length>:" header') ? "header" : "other";
  }
}

describe("the snapshot envelope", () => {
  it("is wf1:, the body's CRC-32 in 8 lowercase hex digits, its UTF-8 length, and the body", () => {
    expect(encoded).toBe(`wf1:${hex32(crc)}:${bytes}:${body}`);
    expect(bytes).toBeGreaterThan(body.length);
  });

  it("rejects as a bad header what the grammar rejects, and as damage what only disagrees with the body", () => {
    const length = String(bytes);
    const cases: [string, "decoded" | "header" | "other"][] = [
      [`wf1:${hex32(crc)}:${length}:${body}`, "decoded"],
      [`wf1:${hex32(crc)}:0${length}:${body}`, "header"],
      [`wf1:${hex32(crc).toUpperCase()}:${length}:${body}`, "header"],
      [`wf1:${hex32(crc).slice(1)}:${length}:${body}`, "header"],
      [`wf1:${hex32(crc)}0:${length}:${body}`, "header"],
      [`wf1:${hex32(crc)}::${body}`, "header"],
      [`wf1:${hex32(crc)}:${length}${body}`, "header"],
      [`wf1:${hex32(crc)}:-${length}:${body}`, "header"],
      [`wf1:${hex32(crc)}:${"1".repeat(17)}:${body}`, "header"],
      [`wf1:${hex32(crc)}:${"9".repeat(16)}:${body}`, "other"],
      [`wf1:${hex32(crc)}:0:${body}`, "other"],
      [`wf1:${hex32(crc ^ 1)}:${length}:${body}`, "other"],
      [`wf1:${hex32(crc)}:${bytes + 1}:${body}`, "other"],
      [`WF1:${hex32(crc)}:${length}:${body}`, "header"],
      [`wf1:${hex32(crc)}:${length}`, "header"],
      [`wf1:${hex32(crc)}:`, "header"],
      ["wf1:", "header"],
      ["", "header"],
      ["wf1:00000000:0:", "other"],
    ];
    for (const [text, expected] of cases) expect([text.slice(0, 40), outcome(text)]).toEqual([text.slice(0, 40), expected]);
  });

  it("agrees with the grammar on headers built from near-miss pieces", () => {
    const piece = (options: string[]) => fc.constantFrom(...options);
    const hexPart = fc.array(piece(["0", "9", "a", "f", "A", "g", ":", "ё"]), { minLength: 6, maxLength: 10 }).map((chars) => chars.join(""));
    const lengthPart = fc.array(piece(["0", "1", "9", ":", "-", "a", " "]), { maxLength: 19 }).map((chars) => chars.join(""));
    const header = fc.tuple(piece(["wf1:", "wf1", "wf2:", "Wf1:", "wf1::", ""]), fc.oneof(hexPart, fc.constant(hex32(crc))), piece([":", "", "::"]), fc.oneof(lengthPart, fc.constant(String(bytes))), piece([":", "", ";"]));
    fc.assert(
      fc.property(header, (parts) => {
        const text = parts.join("") + body;
        const matches = grammar.exec(text);
        const result = outcome(text);
        if (matches === null) return result === "header";
        return result === (matches[1] === hex32(crc) && matches[2] === String(bytes) && matches[0].length === text.length - body.length ? "decoded" : "other");
      }),
      { numRuns: 5_000 },
    );
  });

  it("names the header's length and checksum as written when they disagree with the body", () => {
    const messageOf = (text: string): string => {
      try {
        defaultSnapshotCodec.decode(text, keys);
      } catch (error) {
        return (error as Error).message;
      }
      return "decoded";
    };
    expect(messageOf(`wf1:${hex32(crc)}:${bytes + 10}:${body}`)).toContain(`the body is ${bytes} bytes, the header says ${bytes + 10} (truncated or altered)`);
    expect(messageOf(`wf1:0000abcd:${bytes}:${body}`)).toContain(`checksum mismatch: the body's CRC-32 is ${hex32(crc)}, the header says 0000abcd`);
  });
});
