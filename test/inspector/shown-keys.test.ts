import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { displayKey } from "../../src/cli/format.js";

// The page's own module: plain JavaScript, without types, that runs in Node as in the browser.
const page = new URL("../../src/inspector/page/keys.js", import.meta.url).href;
const { shownKey } = (await import(page)) as { shownKey: (key: string) => string };

// Keys that drawn as they are read the same: spaces collapsed, a tab drawn as a space, a lone
// surrogate drawn as U+FFFD.
const lookAlikes = ["order 1", "order  1", "order\t1", " order 1", "order\uD800", "order\uFFFD"];

describe("shownKey: a key as the inspector's page shows it", () => {
  it("shows a plain key as it is", () => {
    for (const key of ["order-1", "注文-42", "a.b_c:d/e@f", "x".repeat(10_000)]) expect(shownKey(key)).toBe(key);
  });

  it("shows keys that draw alike as different text, JSON-quoted and escaped", () => {
    const shown = lookAlikes.map(shownKey);
    expect(shown).toEqual(['"order 1"', '"order  1"', '"order\\t1"', '" order 1"', '"order\\ud800"', "order\uFFFD"]);
    expect(new Set(shown).size).toBe(lookAlikes.length);
    expect([shownKey(""), shownKey("a\u202Eb"), shownKey('say "hi"')]).toEqual(['""', '"a\\u202eb"', '"say \\"hi\\""']);
  });

  it("shows every key as `workflowforge list` prints it", () => {
    // Any code point, and the characters that decide quoting and escaping, lone surrogates among them.
    const unit = fc.oneof(fc.string({ unit: "binary", minLength: 1, maxLength: 1 }), fc.constantFrom(" ", "\t", "\n", '"', "'", "\\", "\uD800", "\uDFFF", "\u202E", "\u200B", "\u00A0", "\uFEFF"));
    fc.assert(fc.property(fc.string({ unit, maxLength: 12 }), (key) => shownKey(key) === displayKey(key)), { numRuns: 500 });
    for (const key of lookAlikes) expect(shownKey(key)).toBe(displayKey(key));
  });
});
