// A key (an instance id, a workflow key) as the page shows it: as `workflowforge list` prints it
// (src/cli/format.ts's displayKey, which test/inspector/shown-keys.test.ts holds this to). A plain
// key as is; one that is empty or holds spaces, quotes or control characters JSON-quoted, so that
// `order 1`, `order  1`, `order\t1` and ` order 1` read differently, and a lone surrogate reads
// `\ud800`, not the U+FFFD that drawing it puts in its place.

// JSON escapes controls and lone surrogates; the replace, the format characters it leaves (U+202E...).
export function shownKey(key) {
  if (key !== "" && !/[\s"'\\\p{C}]/u.test(key)) return key;
  return JSON.stringify(key).replace(/\p{C}/gu, (character) => {
    const code = character.codePointAt(0) ?? 0;
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
