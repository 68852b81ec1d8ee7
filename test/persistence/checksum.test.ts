import { describe, expect, it } from "vitest";
import { checksumText, crc32, crc32Hex } from "../../src/persistence/checksum.js";

const encoder = new TextEncoder();

describe("crc32", () => {
  it("matches the CRC-32 (IEEE) check value: \"123456789\" is cbf43926", () => {
    expect(crc32Hex(crc32("123456789"))).toBe("cbf43926");
    expect(crc32(encoder.encode("123456789"))).toBe(0xcbf43926);
  });

  it("is 0 for the empty input", () => {
    expect(crc32("")).toBe(0);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32Hex(0)).toBe("00000000");
  });

  it("matches other known vectors", () => {
    expect(crc32Hex(crc32("The quick brown fox jumps over the lazy dog"))).toBe("414fa339");
    expect(crc32Hex(crc32("a"))).toBe("e8b7be43");
    expect(crc32(new Uint8Array([0]))).toBe(0xd202ef8d);
  });

  it("checksums a string's UTF-8 bytes", () => {
    for (const text of ["é", "€", "😀", "mixed ascii é € 😀 \u0000 \u07ff \uffff", "\u{10ffff}"]) {
      expect(crc32(text)).toBe(crc32(encoder.encode(text)));
    }
  });
});

describe("checksumText", () => {
  it("counts UTF-8 bytes like Buffer.byteLength", () => {
    for (const text of ["", "abc", "é", "€", "😀", "a😀b€cé", "\u0000\u007f\u0080\u07ff\u0800\uffff"]) {
      expect(checksumText(text)).toEqual({ crc: crc32(encoder.encode(text)), bytes: Buffer.byteLength(text, "utf8") });
    }
  });

  it("counts a lone surrogate as U+FFFD, as TextEncoder does", () => {
    expect(checksumText("x\ud800y")).toEqual(checksumText("x\ufffdy"));
    expect(checksumText("x\ud800y").bytes).toBe(5);
  });

  it("handles text larger than its 64 KiB encoding window, pairs split across the edge included", () => {
    for (const text of ["a".repeat(70_000), "😀".repeat(40_000), `${"a".repeat(65_535)}😀€é`, "€".repeat(30_000)]) {
      const bytes = encoder.encode(text);
      expect(checksumText(text)).toEqual({ crc: crc32(bytes), bytes: bytes.length });
    }
  });
});
