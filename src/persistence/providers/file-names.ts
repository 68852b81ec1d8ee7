// The on-disk layout of FilePersistenceProvider: file names and the record's header line. Pure
// (no node:* imports) so that it can be read and tested apart from the file system code; the
// SHA-256 it needs for long keys is passed in.

import { matchesFilter, type SnapshotFilter } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import type { LockOwner } from "./file-owner.js";

/** eCryptfs, the strictest common local file system, allows 143 bytes; most allow 255. */
const maxNameBytes = 143;
const recordSuffix = ".snapshot";
const lockSuffix = ".lock";
// Short names whose base fits leave room for the longer suffix.
const maxBaseLength = maxNameBytes - Math.max(recordSuffix.length, lockSuffix.length);
const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
const loneSurrogate = /\p{Cs}/u;
const utf8 = new TextEncoder();

/**
 * RFC 4648 base32 of the UTF-8 bytes, lowercase, unpadded. Injective (the length fixes the byte
 * count) and made of [a-z2-7] only, so names differ in more than case and never hold "/", "." or NUL.
 */
export function base32(text: string): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of utf8.encode(text)) {
    buffer = ((buffer << 8) | byte) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += alphabet[(buffer >>> bits) & 31];
    }
  }
  return bits > 0 ? out + alphabet[(buffer << (5 - bits)) & 31] : out;
}

/**
 * The file name shared by a key pair's record and lock, without suffix.
 *
 * - `s-<base32 instance>-<base32 workflow>` when it fits: injective, since "-" is not a base32 digit.
 * - `h-<base32 of the instance's first 20 characters, cut to 32>-<sha256 hex>` otherwise, and whenever a key holds a lone
 *   surrogate (UTF-8 cannot carry one, so its base32 would not be injective). The digest is of
 *   `JSON.stringify([instance, workflow])`, which escapes lone surrogates; the record stores both
 *   keys so that a load checks it read the pair it asked for.
 */
export function baseNameFor(foundryExecutionId: string, workflowId: string, sha256Hex: (text: string) => string): string {
  // base32 is at least 1.6 digits per UTF-16 unit: skip encoding keys that cannot fit anyway.
  const fits = (foundryExecutionId.length + workflowId.length) * 1.6 + 3 <= maxBaseLength;
  const wellFormed = !loneSurrogate.test(foundryExecutionId) && !loneSurrogate.test(workflowId);
  const short = fits && wellFormed ? `s-${base32(foundryExecutionId)}-${base32(workflowId)}` : undefined;
  if (short !== undefined && short.length <= maxBaseLength) return short;
  // A hint for people listing the directory; the digest alone identifies the pair.
  const prefix = base32(foundryExecutionId.slice(0, 20).replace(/\p{Cs}/gu, "")).slice(0, 32);
  return `h-${prefix}-${sha256Hex(JSON.stringify([foundryExecutionId, workflowId]))}`;
}

export const recordFileName = (base: string): string => base + recordSuffix;
export const lockFileName = (base: string): string => base + lockSuffix;
/** Taken, exclusively, by whoever removes the instance's stale lock; list() ignores it. */
export const breakerFileName = (base: string): string => `${base}.break`;

/**
 * A writer's own file (a new record, or a lock's owner line, before it is linked or renamed):
 * `t-<pid>[-s<start time>]-<random>.tmp`, so that it can be removed once its writer is gone.
 */
export const temporaryFileName = (owner: LockOwner, random: string): string =>
  `t-${owner.pid}${owner.started === undefined ? "" : `-s${owner.started}`}-${random}.tmp`;

/** What a directory entry is to the provider; anything else in the directory is left alone. */
export type EntryKind = { readonly kind: "record" } | { readonly kind: "lock"; readonly base: string } | { readonly kind: "temporary"; readonly owner: LockOwner } | undefined;

const baseName = "(?:s-[a-z2-7]*-[a-z2-7]*|h-[a-z2-7]{0,32}-[0-9a-f]{64})";
const recordName = new RegExp(`^${baseName}\\.snapshot$`);
const lockName = new RegExp(`^(${baseName})\\.lock$`);
const temporaryName = /^t-([1-9][0-9]*)(?:-s([0-9]+))?-[0-9a-f]+\.tmp$/;

export function classifyEntry(name: string): EntryKind {
  if (recordName.test(name)) return { kind: "record" };
  const lock = lockName.exec(name);
  if (lock !== null) return { kind: "lock", base: lock[1] as string };
  const temporary = temporaryName.exec(name);
  if (temporary === null) return undefined;
  const [, pid, started] = temporary;
  return { kind: "temporary", owner: started === undefined ? { pid: Number(pid) } : { pid: Number(pid), started: Number(started) } };
}

/**
 * The first line of a record: the keys, so a load can check it read the pair it asked for (hashed
 * names are not injective), the revision, so compare-and-set reads one line instead of decoding
 * the snapshot, the fields `list()` filters on, so non-matching records are never decoded, and the
 * writer (pid and, where known, its process's start time): a new record is linked to the instance's
 * lock path to take the lock, and while it is the lock, they say whose it is (see file-owner.ts).
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

/** Splits a whole record into its header and the codec's text; throws an Error saying what is wrong. */
export function parseRecord(text: string): { readonly header: RecordHeader; readonly body: string } {
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
