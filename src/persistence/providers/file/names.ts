// The names of FilePersistenceProvider's files: an instance's record, lock and mailbox, the events
// in a mailbox, and a writer's own files. Pure (no node:* imports) so that it can be read and tested apart from the file system
// code; the SHA-256 it needs for long keys is passed in.

import type { LockOwner } from "./owner.js";

/** eCryptfs, the strictest common local file system, allows 143 bytes; most allow 255. */
const maxNameBytes = 143;
const recordSuffix = ".snapshot";
const lockSuffix = ".lock";
const breakerSuffix = ".break";
const mailboxSuffix = ".events";
const eventSuffix = ".event";
// Short names whose base fits leave room for the longest suffix.
const maxBaseLength = maxNameBytes - Math.max(recordSuffix.length, lockSuffix.length, mailboxSuffix.length);
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

/** The record of the instance whose file names start with `base`. */
export const recordFileName = (base: string): string => base + recordSuffix;
/** The lock a writer of that instance holds while it replaces or deletes the record. */
export const lockFileName = (base: string): string => base + lockSuffix;
/** Taken, exclusively, by whoever removes the instance's stale lock; list() ignores it. */
export const breakerFileName = (base: string): string => base + breakerSuffix;
/** The directory of the instance's delivered events; list() passes over it. */
export const mailboxDirectoryName = (base: string): string => base + mailboxSuffix;

/**
 * The file, inside a mailbox, of the event `eventId`: `e-<base32 of the id>.event` when it fits,
 * else (or when the id holds a lone surrogate) `h-<SHA-256 of JSON.stringify(eventId)>.event`. The
 * file stores the id too, so a reader checks the name is the one made for it.
 */
export function eventFileName(eventId: string, sha256Hex: (text: string) => string): string {
  const fits = eventId.length * 1.6 + 2 + eventSuffix.length <= maxNameBytes && !loneSurrogate.test(eventId);
  const short = fits ? `e-${base32(eventId)}` : undefined;
  if (short !== undefined && short.length + eventSuffix.length <= maxNameBytes) return short + eventSuffix;
  return `h-${sha256Hex(JSON.stringify(eventId))}${eventSuffix}`;
}

const eventName = /^(?:e-[a-z2-7]*|h-[0-9a-f]{64})\.event$/;
/** True for a name {@link eventFileName} makes; a mailbox's other entries are not events. */
export const isEventFileName = (name: string): boolean => eventName.test(name);

/**
 * A writer's own file (a new record, or a lock's owner line, before it is linked or renamed):
 * `t-<pid>[-s<start time>]-<random>.tmp`, so that it can be removed once its writer is gone.
 */
export const temporaryFileName = (owner: LockOwner, random: string): string =>
  `t-${owner.pid}${owner.started === undefined ? "" : `-s${owner.started}`}-${random}.tmp`;

/** What a directory entry is to the provider; anything else in the directory is left alone. */
export type EntryKind =
  | { readonly kind: "record" }
  | { readonly kind: "mailbox" }
  | { readonly kind: "lock"; readonly base: string }
  | { readonly kind: "breaker"; readonly base: string }
  | { readonly kind: "temporary"; readonly owner: LockOwner }
  | undefined;

const baseName = "(?:s-[a-z2-7]*-[a-z2-7]*|h-[a-z2-7]{0,32}-[0-9a-f]{64})";
const recordName = new RegExp(`^${baseName}\\.snapshot$`);
const lockName = new RegExp(`^(${baseName})\\.lock$`);
const breakerName = new RegExp(`^(${baseName})\\.break$`);
const mailboxName = new RegExp(`^${baseName}\\.events$`);
const temporaryName = /^t-([1-9][0-9]*)(?:-s([0-9]+))?-[0-9a-f]+\.tmp$/;

/** What a directory entry is to the provider, by its name alone. */
export function classifyEntry(name: string): EntryKind {
  if (recordName.test(name)) return { kind: "record" };
  if (mailboxName.test(name)) return { kind: "mailbox" };
  const lock = lockName.exec(name);
  if (lock !== null) return { kind: "lock", base: lock[1] as string };
  const breaker = breakerName.exec(name);
  if (breaker !== null) return { kind: "breaker", base: breaker[1] as string };
  const temporary = temporaryName.exec(name);
  if (temporary === null) return undefined;
  const [, pid, started] = temporary;
  return { kind: "temporary", owner: started === undefined ? { pid: Number(pid) } : { pid: Number(pid), started: Number(started) } };
}
