import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeKey, encodeKey } from "../../../src/persistence/providers/postgres-sql.js";

// The stored form of a key: what Postgres text cannot hold (NUL, lone surrogates), what PGlite
// drops (a leading U+FEFF) and the escape's own backslash become \uXXXX; everything else is stored
// as it is, so that most keys read as themselves in SQL.

// Any UTF-16 string, lone surrogates included, with the characters that need escaping made likely.
const anyKey = fc.oneof(
  fc.string({ unit: "binary" }),
  fc.string({ unit: fc.constantFrom("a", "\\", "\u0000", "\uFEFF", "\uD800", "\uDC00", "\uD83D", "\uDE00", "u", "0") }),
);
// eslint-disable-next-line no-control-regex -- NUL is one of the characters a stored key must not hold
const unsafe = /[\\\u0000]|^\uFEFF|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe("Postgres stored keys", () => {
  it("decode to the key they were encoded from, for any string", () => {
    fc.assert(
      fc.property(anyKey, (key) => {
        expect(decodeKey(encodeKey(key))).toBe(key);
      }),
      { numRuns: 2_000 },
    );
  });

  it("hold no NUL, lone surrogate or leading U+FEFF, and no backslash but an escape's", () => {
    fc.assert(
      fc.property(anyKey, (key) => {
        const stored = encodeKey(key);
        expect(stored.replace(/\\u[0-9a-f]{4}/g, "_")).not.toMatch(unsafe);
      }),
      { numRuns: 2_000 },
    );
  });

  it("store a key that needs no escape as the key itself, and escape only what needs it", () => {
    expect(encodeKey("order-42@v1 ünïcødé 😀 \uFEFFinside")).toBe("order-42@v1 ünïcødé 😀 \uFEFFinside");
    expect(encodeKey("\uFEFFlead")).toBe("\\ufefflead");
    expect(encodeKey("a\\b\u0000c\uD800d\uDC00")).toBe("a\\u005cb\\u0000c\\ud800d\\udc00");
    expect(encodeKey("pair \uD83D\uDE00 and lone \uD83D")).toBe("pair \uD83D\uDE00 and lone \\ud83d");
  });

  it("refuse a stored spelling encodeKey never writes", () => {
    expect(decodeKey("raw\\backslash")).toBeUndefined();
    expect(decodeKey("\\u0041")).toBeUndefined();
    expect(decodeKey("\\u005c")).toBe("\\");
  });
});
