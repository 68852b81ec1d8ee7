import { describe as describeValue } from "../../internal/validate.js";
import { SnapshotCorruptedError, type SnapshotKeys } from "../errors.js";

// Keys in SQL columns: how SqlitePersistenceProvider stores one, and how a SQL provider reads the
// key columns back (keysOfColumns).
//
// A store of UTF-8 text has no spelling for a lone surrogate: better-sqlite3 writes one as bytes
// that read back as U+FFFD, so such a key would come back from list() as another string. A key
// that is well-formed and does not start with the marker is stored as itself, as every key always
// was, so existing rows stay readable and the column stays queryable; any other key is stored as
// the marker and its JSON, which escapes lone surrogates. Keys starting with the marker are
// escaped too, so no two keys share a stored form. (Postgres keeps its own scheme, in
// postgres-sql.ts: its text cannot hold NUL either.)

// U+FFFF is a noncharacter: no text that means something starts with it.
const marker = "\uFFFF";
/** A UTF-16 code unit with no partner: text that UTF-8 cannot hold as it is. */
export const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The text `key` is stored as: the key itself, or the marker and its JSON. Injective. */
export function storedKey(key: string): string {
  return key.startsWith(marker) || loneSurrogate.test(key) ? marker + JSON.stringify(key) : key;
}

/**
 * The key whose stored form is `stored`, or `undefined` when no key is stored that way (text
 * written by something else, or damaged): the caller reports that record as unreadable.
 */
export function keyOfStored(stored: string): string | undefined {
  if (!stored.startsWith(marker)) return stored;
  let key: unknown;
  try {
    key = JSON.parse(stored.slice(marker.length));
  } catch {
    return undefined;
  }
  // Only the one spelling storedKey writes, so that tryLoad and delete of the key reach this row.
  return typeof key === "string" && storedKey(key) === stored ? key : undefined;
}

/**
 * The keys of a row a SQL provider's list() read, through `keyOf` (the provider's inverse of how
 * it stores a key). A key column holding text no save writes, or no text, cannot be reached by
 * tryLoad or delete of any key: it throws `SnapshotCorruptedError`, as data that cannot be
 * decoded does, naming what is still known and `"*"` for the rest.
 */
export function keysOfColumns(instanceId: unknown, workflowId: unknown, keyOf: (stored: string) => string | undefined): SnapshotKeys {
  const instance = typeof instanceId === "string" ? keyOf(instanceId) : undefined;
  const workflow = typeof workflowId === "string" ? keyOf(workflowId) : undefined;
  if (instance !== undefined && workflow !== undefined) return { foundryExecutionId: instance, workflowId: workflow };
  const [column, held] = instance === undefined ? ["instance_id", instanceId] : ["workflow_id", workflowId];
  const keys = { foundryExecutionId: instance ?? "*", workflowId: workflow ?? "*" };
  const what = held instanceof Uint8Array ? "a BLOB" : describeValue(held);
  throw new SnapshotCorruptedError(keys, `its ${column} column holds ${what}, which no key is stored as`);
}
