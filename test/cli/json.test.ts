import { describe, expect, it } from "vitest";
import { displayKey } from "../../src/cli/format.js";
import { toJson } from "../../src/cli/json.js";
import { redact } from "../../src/cli/store-parts.js";

describe("toJson", () => {
  it("turns the values the codec restores into plain JSON", () => {
    const value = {
      big: 12345678901234567890n,
      map: new Map<unknown, unknown>([["a", 1], [2, new Set([3n])]]),
      set: new Set(["x"]),
      date: new Date("2026-01-02T03:04:05.000Z"),
      badDate: new Date(NaN),
      bytes: new Uint8Array([1, 2, 255]),
      bigs: new BigInt64Array([-1n]),
      buffer: Buffer.from("hi"),
      arrayBuffer: new Uint8Array([7]).buffer,
      regexp: /a+b/gi,
      error: new TypeError("bad", { cause: 1n }),
      numbers: [NaN, Infinity, -Infinity, -0, 1.5],
      undef: undefined,
      holes: [undefined, 1],
    };
    expect(JSON.parse(toJson(value))).toEqual({
      big: "12345678901234567890",
      map: [["a", 1], [2, ["3"]]],
      set: ["x"],
      date: "2026-01-02T03:04:05.000Z",
      badDate: null,
      bytes: [1, 2, 255],
      bigs: ["-1"],
      buffer: [104, 105],
      arrayBuffer: [7],
      regexp: "/a+b/gi",
      error: { name: "TypeError", message: "bad", cause: "1" },
      numbers: ["NaN", "Infinity", "-Infinity", 0, 1.5],
      undef: null,
      holes: [null, 1],
    });
  });

  it("keeps an own __proto__ key as data", () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}}') as object;
    expect(toJson(value)).toBe('{\n  "__proto__": {\n    "polluted": true\n  }\n}');
  });
});

describe("displayKey", () => {
  it("prints plain keys as they are and quotes the ones a shell or a table would mangle", () => {
    expect(["order-42", "é✓", "", "a b", "tab\there", 'q"', "new\nline", "\u0000"].map(displayKey)).toEqual([
      "order-42", "é✓", '""', '"a b"', '"tab\\there"', '"q\\""', '"new\\nline"', '"\\u0000"',
    ]);
  });
});

describe("redact", () => {
  it("hides the password of a connection string and nothing else", () => {
    expect(redact("postgres://app:s3cr3t@db.internal:5432/app")).toBe("postgres://app:***@db.internal:5432/app");
    expect(redact("redis://:s3cr3t@127.0.0.1:6379/0")).toBe("redis://:***@127.0.0.1:6379/0");
    expect(redact("postgres://db/app?user=app&password=s3cr3t&ssl=true")).toBe("postgres://db/app?user=app&password=***&ssl=true");
    expect(redact("postgres://app@127.0.0.1/app")).toBe("postgres://app@127.0.0.1/app");
  });
});
