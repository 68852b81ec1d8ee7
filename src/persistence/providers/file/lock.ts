// The per-instance lock of FilePersistenceProvider. Why a lock file: compare-and-set needs "read the
// stored revision, then replace" to be one step for every process, and rename alone cannot compare.
//
// A lock never exists without its owner: a writer writes a file of its own under a unique temporary
// name (a save's new record, whose header names the writer, or a delete's owner line) and links it
// to the lock path. link() fails when the path exists and is atomic on local file systems, so
// exactly one writer holds the lock, and the lock appears with its content. The holder releases it
// by unlinking the lock path, after checking that it is still the inode it linked there. A lock is
// broken only when its owner is known to be gone; everything here throws the plain `fs` error.

import { randomBytes } from "node:crypto";
import { fstatSync, statSync } from "node:fs";
import { link, lstat, open, unlink, type FileHandle } from "node:fs/promises";
import { uptime } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { throwIfAborted, untilAborted } from "../shared.js";
import { UnreadableEntryError, absent, errorCode, ignore, openRecordFile, readFirstLine } from "./fs.js";
import { temporaryFileName } from "./names.js";
import { isGone, lockOwner, ownerLine, thisOwner, type LockOwner } from "./owner.js";

/** A file this process wrote under a unique temporary name: only it links, renames or removes it. */
export interface OwnFile {
  readonly path: string;
  /** Tells the lock this process linked from any other file at the lock path. */
  readonly ino: bigint;
  /** Its closing, under way (it never rejects): the caller links the file meanwhile, and awaits it before returning. */
  readonly closed: Promise<void>;
}

/** Writes `text` (flushed with `durable`) to a new file of this process's in `directory`. */
export async function writeOwnFile(directory: string, text: string, durable: boolean): Promise<OwnFile> {
  const path = join(directory, temporaryFileName(thisOwner(), randomBytes(8).toString("hex")));
  const handle = await open(path, "wx");
  try {
    await handle.writeFile(text, "utf8");
    if (durable) await handle.sync();
  } catch (error) {
    await handle.close().catch(ignore);
    await unlink(path).catch(ignore);
    throw error;
  }
  // fstat of an open descriptor is answered from memory: not worth a trip through the thread pool.
  return { path, ino: fstatSync(handle.fd, { bigint: true }).ino, closed: handle.close().catch(ignore) };
}

/** The paths of one instance's lock: `lock` is linked exclusively; `breaker` is held while removing a stale one. */
export interface LockPaths {
  readonly directory: string;
  readonly lock: string;
  readonly breaker: string;
}

/** Until when to wait for a lock, and how old a lock of a gone owner must be before it is broken. */
export interface LockTiming {
  /** The time (as `Date.now()`) to give up at: `timeoutMs` after the call, which may have queued first. */
  readonly deadline: number;
  /** For the error: how long the caller was willing to wait. */
  readonly timeoutMs: number;
  readonly staleLockMs: number;
  readonly signal: AbortSignal | undefined;
}

async function linkExclusive(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to);
    return true;
  } catch (error) {
    if (errorCode(error) === "EEXIST") return false;
    throw error;
  }
}

/**
 * True when `path` is still the file `ino`: a lock this process linked, or a stale one it
 * inspected. Synchronous: the entry was just created or read, so the lookup is answered from memory.
 */
export function isStill(path: string, ino: bigint): boolean {
  return statSync(path, { bigint: true, throwIfNoEntry: false })?.ino === ino;
}

/** Unlinks `path` if it is still the file `ino`, so that a writer never removes a lock it does not hold. */
export async function unlinkIfStill(path: string, ino: bigint): Promise<void> {
  if (isStill(path, ino)) await unlink(path).catch(absent);
}

interface LockState {
  readonly line: string;
  /** Undefined when the first line names no owner: never broken then, however old. */
  readonly owner: LockOwner | undefined;
  /** Why it cannot be read as a file (then it names no owner), as UnreadableEntryError says. */
  readonly unreadable?: string;
  readonly ino: bigint;
  readonly mtimeMs: number;
}

// Opened as a record is (openRecordFile), so that a FIFO under a lock's name cannot hang the call,
// nor hold one of libuv's threads, and a symbolic link is not followed: dangling, it would look like
// no lock, though link() finds the name taken. What cannot be read as a file (a FIFO, a directory, a
// symbolic link, a file this process may not read) was not made by a writer of this provider: it
// names no owner, and is never broken.
async function inspectLock(path: string): Promise<LockState | undefined> {
  let handle: FileHandle | undefined;
  try {
    handle = await openRecordFile(path);
  } catch (error) {
    if (!(error instanceof UnreadableEntryError)) throw error;
    const info = await lstat(path, { bigint: true }).catch(absent);
    return info === undefined ? undefined : { line: "", owner: undefined, unreadable: error.reason, ino: info.ino, mtimeMs: Number(info.mtimeMs) };
  }
  if (handle === undefined) return undefined;
  try {
    const [{ line, complete }, info] = await Promise.all([readFirstLine(handle), handle.stat({ bigint: true })]);
    return { line, owner: complete ? lockOwner(line) : undefined, ino: info.ino, mtimeMs: Number(info.mtimeMs) };
  } finally {
    await handle.close();
  }
}

// Older than `staleLockMs` (a negative age, after the clock was set back, never is) and its owner
// gone (see isGone: a dead pid, a zombie, or a pid reused by a process that started later), or,
// for an owner named by its pid alone, from before the last boot. A live owner's lock is never
// broken, however long it is stopped, this process's included; nor is a lock naming no owner.
function isStale(lock: LockState, staleLockMs: number): boolean {
  const now = Date.now();
  if (lock.owner === undefined || now - lock.mtimeMs <= staleLockMs) return false;
  if (lock.owner.started === undefined && lock.mtimeMs < now - uptime() * 1000) return true;
  return isGone(lock.owner);
}

// Breakers take turns through the `breaker` file, linked like a lock, so that of two that found the
// same stale lock, the second re-reads after the first has removed it and leaves the new owner's
// lock alone. False: another breaker is at it.
async function breakStale(paths: LockPaths, seen: LockState, staleLockMs: number): Promise<boolean> {
  const turn = await writeOwnFile(paths.directory, ownerLine(thisOwner(), randomBytes(8).toString("hex")), false);
  try {
    if (!(await linkExclusive(turn.path, paths.breaker))) {
      await clearStaleBreaker(paths.breaker, staleLockMs);
      return false;
    }
    try {
      const again = await inspectLock(paths.lock);
      if (again?.line === seen.line && again.ino === seen.ino && again.mtimeMs === seen.mtimeMs) await unlink(paths.lock).catch(absent);
      return true;
    } finally {
      await unlinkIfStill(paths.breaker, turn.ino);
    }
  } finally {
    await Promise.all([turn.closed, unlink(turn.path).catch(ignore)]);
  }
}

/** Removes the file a breaker that died at it left at `breaker`, by the rule that breaks a lock (see isStale). */
export async function clearStaleBreaker(breaker: string, staleLockMs: number): Promise<void> {
  const other = await inspectLock(breaker);
  if (other !== undefined && isStale(other, staleLockMs)) await unlinkIfStill(breaker, other.ino);
}

/** Breaks the lock at `paths.lock` if it is stale; for cleaning instances no writer touches again. */
export async function breakIfStale(paths: LockPaths, staleLockMs: number): Promise<void> {
  const seen = await inspectLock(paths.lock);
  if (seen !== undefined && isStale(seen, staleLockMs)) await breakStale(paths, seen, staleLockMs);
}

function held(path: string, lock: LockState | undefined, timeoutMs: number): Error {
  // Gone (or broken) by the time it was read: other writers took it at each of this one's attempts.
  if (lock === undefined) return new Error(`the lock file ${path} was taken by another writer at each attempt to link it; gave up after ${timeoutMs} ms`);
  if (lock.owner !== undefined) return new Error(`the lock file ${path} is held by process ${lock.owner.pid}; gave up after ${timeoutMs} ms`);
  const what = lock.unreadable === undefined ? "names no owner (no writer of this provider left it)" : `cannot be read: ${lock.unreadable}`;
  return new Error(`the lock file ${path} ${what}; gave up after ${timeoutMs} ms. Remove it if no writer is running`);
}

/** Why a writer gave up while this provider's writers of the instance before it still ran. */
export const turnNotCome = (path: string, timeoutMs: number): Error =>
  new Error(`this provider's earlier saves and deletes of the instance (lock file ${path}) were still running; gave up after ${timeoutMs} ms`);

/**
 * Links `own` to the lock path. After each failed link, waits a randomised backoff (1 ms doubling
 * to 50 ms) and retries, until the deadline, then fails; a stale lock (see isStale) is removed first,
 * by one breaker at a time.
 */
export async function acquireLock(paths: LockPaths, own: OwnFile, timing: LockTiming): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(timing.signal);
    if (await linkExclusive(own.path, paths.lock)) return;
    const seen = await inspectLock(paths.lock);
    const broken = seen !== undefined && isStale(seen, timing.staleLockMs) && (await breakStale(paths, seen, timing.staleLockMs));
    // Checked, and waited, after every failed link, even when the lock looked free (released
    // meanwhile, or broken): were an entry ever to look free and still keep the link out, the
    // writer gives up at its deadline rather than spin.
    if (Date.now() >= timing.deadline) throw held(paths.lock, broken ? undefined : seen, timing.timeoutMs);
    await untilAborted(sleep(Math.min(50, 2 ** attempt) * (0.5 + Math.random())), timing.signal);
  }
}
