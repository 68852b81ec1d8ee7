import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checksumText, crc32, hex32, nativeChecksum, portableChecksumText } from "../../src/persistence/codec/checksum.js";

const encoder = new TextEncoder();

describe("crc32", () => {
  it("matches the CRC-32 (IEEE) check value: \"123456789\" is cbf43926", () => {
    expect(hex32(crc32("123456789"))).toBe("cbf43926");
    expect(crc32(encoder.encode("123456789"))).toBe(0xcbf43926);
  });

  it("writes any 32-bit value as 8 lowercase hex digits", () => {
    for (const value of [0, 1, 0xff, 0x1234abcd, 0x7fffffff, 0x80000000, 0xdeadbeef, 0xffffffff, -1]) {
      expect(hex32(value)).toBe((value >>> 0).toString(16).padStart(8, "0"));
    }
  });

  it("is 0 for the empty input", () => {
    expect(crc32("")).toBe(0);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(hex32(0)).toBe("00000000");
  });

  it("matches other known vectors", () => {
    expect(hex32(crc32("The quick brown fox jumps over the lazy dog"))).toBe("414fa339");
    expect(hex32(crc32("a"))).toBe("e8b7be43");
    expect(crc32(new Uint8Array([0]))).toBe(0xd202ef8d);
  });

  it("checksums a string's UTF-8 bytes", () => {
    for (const text of ["é", "€", "😀", "mixed ascii é € 😀 \u0000 \u07ff \uffff", "\u{10ffff}"]) {
      expect(crc32(text)).toBe(crc32(encoder.encode(text)));
    }
  });
});

// The same cases hold for the native CRC-32 (Node's zlib) and for the JavaScript one that runs
// where there is none: records written under one must read under the other.
describe.each([
  ["checksumText", checksumText],
  ["portableChecksumText", portableChecksumText],
])("%s", (_name, checksum) => {
  it("counts UTF-8 bytes like Buffer.byteLength", () => {
    for (const text of ["", "abc", "é", "€", "😀", "a😀b€cé", "\u0000\u007f\u0080\u07ff\u0800\uffff"]) {
      expect(checksum(text)).toEqual({ crc: crc32(encoder.encode(text)), bytes: Buffer.byteLength(text, "utf8") });
    }
  });

  it("counts a lone surrogate as U+FFFD, as TextEncoder does", () => {
    expect(checksum("x\ud800y")).toEqual(checksum("x\ufffdy"));
    expect(checksum("x\udfffy")).toEqual(checksum("x\ufffdy"));
    expect(checksum("x\ud800y").bytes).toBe(5);
  });

  it("handles text larger than the 64 KiB encoding window, pairs split across the edge included", () => {
    for (const text of ["a".repeat(70_000), "😀".repeat(40_000), `${"a".repeat(65_535)}😀€é`, "€".repeat(30_000)]) {
      const bytes = encoder.encode(text);
      expect(checksum(text)).toEqual({ crc: crc32(bytes), bytes: bytes.length });
    }
  });

  it("checksums the bytes TextEncoder writes, for any string", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (text) => {
        const bytes = encoder.encode(text);
        expect(checksum(text)).toEqual({ crc: portableCrc(bytes), bytes: bytes.length });
      }),
    );
  });
});

describe("the native checksum", () => {
  it("is used on Node.js versions with zlib.crc32 and process.getBuiltinModule (20.16+, 22.3+)", () => {
    const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
    const expected = (major === 20 && minor >= 16) || (major === 22 && minor >= 3) || major >= 23;
    expect(nativeChecksum).toBe(expected);
  });
});

// CRC-32 of bytes, bit by bit: the definition, independent of both table-driven paths.
function portableCrc(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
