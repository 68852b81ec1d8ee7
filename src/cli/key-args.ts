import type { SnapshotKeys } from "../persistence/errors.js";
import { usageError } from "./errors.js";
import { displayKey } from "./format.js";

const keyNames = ["instanceId", "workflowKey"] as const;

/**
 * `<instanceId> <workflowKey>` as given, or with `--json-keys` each read as a JSON string literal,
 * so that a key no command line can carry (a lone surrogate: arguments are UTF-8) is named as
 * `list` prints it quoted: `"bad\ud800"`. Throws a usage `CliError` naming an argument that is not
 * a JSON string.
 */
export function keysFrom(command: string, words: readonly string[], json: boolean): SnapshotKeys {
  const [foundryExecutionId = "", workflowId = ""] = json ? keyNames.map((name, index) => jsonKey(command, name, words[index] ?? "")) : words;
  const keys = { foundryExecutionId, workflowId };
  if (json) givenAsJson.add(keys);
  return keys;
}

// Keys read with --json-keys, which quotedKeyHint does not advise it for.
const givenAsJson = new WeakSet<SnapshotKeys>();

function jsonKey(command: string, name: string, text: string): string {
  let key: unknown;
  try {
    key = JSON.parse(withJsonEscapes(text));
  } catch {
    // Not JSON, or a \u{...} beyond U+10FFFF: refused below as any other non-string.
  }
  if (typeof key === "string") return key;
  throw usageError(`--json-keys: <${name}> must be a JSON string, such as '"order-42"' in a shell; ${displayKey(text)} is not one`, command);
}

// `\u{e0001}`, as visible() (format.ts) prints a format or unassigned character beyond U+FFFF in
// a quoted key, is not JSON: each becomes JSON's escapes of its UTF-16 units, so that every key
// printed quoted reads back as it was. A `\\` is an escaped backslash, and stays one.
function withJsonEscapes(text: string): string {
  return text.replace(/\\(?:\\|u\{([0-9a-fA-F]{1,6})\})/g, (escape, hex: string | undefined) => {
    if (hex === undefined) return escape;
    const character = String.fromCodePoint(Number.parseInt(hex, 16));
    return Array.from({ length: character.length }, (_, index) => `\\u${character.charCodeAt(index).toString(16).padStart(4, "0")}`).join("");
  });
}

/**
 * For a "not found" naming keys given without `--json-keys`: a key that reads as a JSON string
 * may be one copied from `list`, which prints some keys JSON-quoted.
 */
export function quotedKeyHint(keys: SnapshotKeys): string {
  const quoted = !givenAsJson.has(keys) && [keys.foundryExecutionId, keys.workflowId].some((key) => /^".*"$/s.test(key));
  return quoted ? ` (a key list prints in double quotes is a JSON string: name it as printed with --json-keys)` : "";
}

/** After list's table, when it prints a key JSON-quoted: how to name that key to another command. */
export function quotedKeysNote(snapshots: readonly SnapshotKeys[]): string {
  const quoted = snapshots.some((s) => displayKey(s.foundryExecutionId) !== s.foundryExecutionId || displayKey(s.workflowId) !== s.workflowId);
  return quoted ? `Keys in double quotes are JSON strings, escaped where a terminal could not show them: name one to show, delete, signal or cancel with --json-keys and both keys as JSON, e.g. '"order 1"' '"billing-v1"'.\n` : "";
}
