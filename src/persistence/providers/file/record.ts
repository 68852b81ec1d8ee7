// The record file's format: a header line (keys, revision, the fields list() filters on, the
// writer) and then the codec's text. Pure, like names.ts.

import { messageOf } from "../../../errors.js";
import type { SnapshotCodec } from "../../codec/codec.js";
import { SnapshotCorruptedError, describeKeys, type SnapshotKeys } from "../../errors.js";
import { anyInstance } from "../../keys.js";
import { matchesFilter, type SnapshotFilter } from "../../provider.js";
import type { WorkflowExecutionSnapshot } from "../../snapshot.js";
import { decodeFromStorage } from "../stored.js";
import type { FirstLine } from "./fs.js";
import type { LockOwner } from "./owner.js";

/**
 * The first line of a record: the keys, so a load can check it read the pair it asked for (hashed
 * names are not injective), the revision, so compare-and-set reads one line instead of decoding
 * the snapshot, the fields `list()` filters on, so non-matching records are never decoded, and the
 * writer (pid and, where known, its process's start time): a new record is linked to the instance's
 * lock path to take the lock, and while it is the lock, they say whose it is (see owner.ts).
 */
export interface RecordHeader {
  readonly format: typeof recordFormat;
  readonly foundryExecutionId: string;
  readonly workflowId: string;
  readonly revision: number;
  readonly status: string;
  readonly workflowName: string;
  readonly updatedAt: string;
  readonly pid: number;
  readonly started?: number;
}

const recordFormat = "workflowforge-file/1";
const checkedFields = ["foundryExecutionId", "workflowId", "revision", "status", "workflowName", "updatedAt"] as const;

/** A record written by `owner`: the header as one line of JSON (which escapes every newline), then the codec's text. */
export function formatRecord(snapshot: WorkflowExecutionSnapshot, encoded: string, owner: LockOwner): string {
  const { foundryExecutionId, workflowId, revision, status, workflowName, updatedAt } = snapshot;
  const header: RecordHeader = { format: recordFormat, foundryExecutionId, workflowId, revision, status, workflowName, updatedAt, ...owner };
  return `${JSON.stringify(header)}\n${encoded}`;
}

/** Parses a header line; throws an Error saying what is wrong with it. */
export function parseHeader(line: string): RecordHeader {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error("its first line is not a record header");
  }
  const header = value as Partial<Record<keyof RecordHeader, unknown>> | null;
  if (typeof header !== "object" || header === null || header.format !== recordFormat) throw new Error(`its header is not a "${recordFormat}" header`);
  if (!Number.isSafeInteger(header.revision)) throw new Error("its header has no revision");
  for (const field of checkedFields) {
    if (field !== "revision" && typeof header[field] !== "string") throw new Error(`its header has no ${field}`);
  }
  return header as RecordHeader;
}

/** A record file, split. */
export interface FileRecord {
  readonly header: RecordHeader;
  /** The codec's text. */
  readonly body: string;
}

/** Splits a whole record into its header and the codec's text; throws an Error saying what is wrong. */
export function parseRecord(text: string): FileRecord {
  const end = text.indexOf("\n");
  if (end === -1) throw new Error(text.length === 0 ? "the file is empty" : "the file has no header line (truncated or not a record)");
  return { header: parseHeader(text.slice(0, end)), body: text.slice(end + 1) };
}

/** Throws unless the decoded snapshot agrees with the header written next to it. */
export function checkAgainstHeader(snapshot: WorkflowExecutionSnapshot, header: RecordHeader): void {
  // A custom codec's decode is not checked for shape; the middleware checks the rest.
  if (typeof snapshot !== "object" || snapshot === null) throw new Error(`the codec decoded ${snapshot === null ? "null" : typeof snapshot}, not a snapshot`);
  for (const field of checkedFields) {
    if (snapshot[field] !== header[field]) throw new Error(`its header says ${field} ${JSON.stringify(header[field])}, the snapshot ${JSON.stringify(snapshot[field])}`);
  }
}

/** The filters `list()` can apply from the header alone, before decoding. */
export function headerMatches(header: RecordHeader, filter: SnapshotFilter | undefined): boolean {
  // matchesFilter reads only status, workflowId, workflowName and updatedAt, which the header holds.
  return matchesFilter(header as unknown as WorkflowExecutionSnapshot, filter);
}

const sameKeys = (a: SnapshotKeys, b: SnapshotKeys): boolean => a.foundryExecutionId === b.foundryExecutionId && a.workflowId === b.workflowId;

/**
 * The record in `text`, read from `path`, split; throws SnapshotCorruptedError naming `keys` (the
 * ones asked for, or `anyInstance` when listing) when it is unreadable or another pair's.
 */
export function parseRecordAt(text: string, path: string, keys: SnapshotKeys): FileRecord {
  let record: FileRecord;
  try {
    record = parseRecord(text);
  } catch (error) {
    throw new SnapshotCorruptedError(keys, `${path}: ${messageOf(error)}`, error);
  }
  if (keys !== anyInstance && !sameKeys(keys, record.header)) throw new SnapshotCorruptedError(keys, `${path} holds the record of ${describeKeys(record.header)}`);
  return record;
}

/** The revision in a stored record's first line (a line without its newline: the file ended there). */
export function storedRevision(stored: FirstLine, path: string, keys: SnapshotKeys): number {
  const text = stored.complete ? `${stored.line}\n` : stored.line;
  return parseRecordAt(text, path, keys).header.revision;
}

/** The snapshot of the record in `text`, checked against its header; throws SnapshotCorruptedError as {@link parseRecordAt}. */
export function decodeRecord(codec: SnapshotCodec, text: string, path: string, keys: SnapshotKeys): WorkflowExecutionSnapshot {
  const { header, body } = parseRecordAt(text, path, keys);
  const snapshot = decodeFromStorage(codec, body, keys);
  try {
    checkAgainstHeader(snapshot, header);
  } catch (error) {
    throw new SnapshotCorruptedError(keys, `${path}: ${messageOf(error)}`, error);
  }
  return snapshot;
}
