// The file system mechanics of FilePersistenceProvider: the per-instance lock file (which is also
// the new record until it is renamed over the old one), directory flushes and cleanup. Everything
// here throws the plain `fs` error, or what the caller's check throws; the provider turns fs errors
// into a PersistenceError naming the call and the keys.

import { randomBytes } from "node:crypto";
import { fstatSync, readSync } from "node:fs";
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { uptime } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { breakerFileName, classifyEntry, lockFileName } from "./file-names.js";
import { isGone, lockOwner, ownerLine, thisOwner, type LockOwner } from "./file-owner.js";

// A lock this old may be broken if its owner is gone; a temporary file this old is a leftover.
const staleLockMs = 5_000;
const staleTemporaryMs = 60_000;

const errorCode = (error: unknown): unknown => (typeof error === "object" && error !== null && "code" in error ? error.code : undefined);

/** A catch handler that turns the one expected error (ENOENT: gone already) into undefined. */
export const absent = (error: unknown): undefined => {
  if (errorCode(error) === "ENOENT") return undefined;
  throw error;
};

const ignore = (): undefined => undefined;

/** `promise`, or a rejection with the signal's reason as soon as it aborts; the work itself goes on. */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((settle, fail) => {
    // The reason as given, like signal.throwIfAborted(); the provider wraps a non-Error one.
    const onAbort = (): void => fail(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    void promise.then(settle, fail).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

// Both results, or the first failure once whatever the other produced has been undone.
async function both<A, B>(a: Promise<A>, b: Promise<B>, undoA: (value: A) => Promise<unknown>, undoB: (value: B) => Promise<unknown>): Promise<[A, B]> {
  const [first, second] = await Promise.allSettled([a, b]);
  if (first.status === "fulfilled" && second.status === "fulfilled") return [first.value, second.value];
  if (first.status === "fulfilled") await undoA(first.value).catch(ignore);
  if (second.status === "fulfilled") await undoB(second.value).catch(ignore);
  throw first.status === "rejected" ? first.reason : (second as PromiseRejectedResult).reason;
}

/** Flushes a directory's entries (a rename, an unlink) to the disk. */
async function syncDirectory(directory: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(directory, "r");
  } catch (error) {
    // Windows cannot open a directory; NTFS journals the rename itself.
    if (process.platform === "win32") return;
    throw error;
  }
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A file's first line, without its newline; `complete` is false when the file ends before one. */
export interface FirstLine {
  readonly line: string;
  readonly complete: boolean;
}

// The line at the start of `chunk`'s first `bytesRead` bytes; undefined when it goes on past them
// and `whole` (they are the whole file) is false.
function lineIn(chunk: Buffer, bytesRead: number, whole: boolean): FirstLine | undefined {
  const end = chunk.subarray(0, bytesRead).indexOf(10);
  if (end !== -1) return { line: chunk.toString("utf8", 0, end), complete: true };
  return whole ? { line: chunk.toString("utf8", 0, bytesRead), complete: false } : undefined;
}

// Reads 4 KiB, not the (possibly megabytes of) snapshot after the header; a longer first line
// (keys of kilobytes) is read with the rest of the file.
async function readFirstLine(handle: FileHandle): Promise<FirstLine> {
  const chunk = Buffer.allocUnsafe(4096);
  const { bytesRead } = await handle.read(chunk, 0, chunk.length, 0);
  const line = lineIn(chunk, bytesRead, bytesRead < chunk.length);
  if (line !== undefined) return line;
  const whole = await handle.readFile();
  return lineIn(whole, whole.length, true) as FirstLine;
}

/** The paths of one instance's lock: `lock` is created exclusively; `breaker` is held while removing a stale one. */
export interface LockPaths {
  readonly lock: string;
  readonly breaker: string;
}

interface LockState {
  readonly line: string;
  readonly owner: LockOwner;
  readonly ino: number;
  readonly mtimeMs: number;
}

// Readable too ("wx+"): a save's lock becomes the record, whose handle the provider keeps and reads.
function createExclusive(path: string): Promise<FileHandle | undefined> {
  return open(path, "wx+").catch((error: unknown) => {
    if (errorCode(error) === "EEXIST") return undefined;
    throw error;
  });
}

async function inspectLock(path: string): Promise<LockState | undefined> {
  const handle = await open(path, "r").catch(absent);
  if (handle === undefined) return undefined;
  try {
    const [{ line, complete }, info] = await Promise.all([readFirstLine(handle), handle.stat()]);
    // A line cut short may end in part of a start time; its pid alone is the owner then.
    const owner = complete ? lockOwner(line) : { pid: lockOwner(line).pid };
    return { line, owner, ino: info.ino, mtimeMs: info.mtimeMs };
  } finally {
    await handle.close();
  }
}

// Old (a negative age, after the clock was set back, never is) and its owner gone: it predates the
// last boot, or its process has exited (see isGone: a dead pid, or one reused by a process that
// started later). A live owner's lock is never broken, this process's included.
function isStale(lock: LockState): boolean {
  const now = Date.now();
  if (now - lock.mtimeMs <= staleLockMs) return false;
  return lock.mtimeMs < now - uptime() * 1000 || isGone(lock.owner);
}

// Breakers take turns through the exclusive `breaker` file, so that of two that found the same stale
// lock, the second re-reads after the first has removed it and leaves the new owner's lock alone.
// Without the turn, the second could remove the lock the first had created since, and a lock is a
// record in the making: its owner renames it over the record. False: another breaker is at it.
async function breakStale(paths: LockPaths, seen: LockState): Promise<boolean> {
  const turn = await createExclusive(paths.breaker);
  if (turn === undefined) {
    // A breaker that died at it leaves its file; the same rule, older than 5 s and owner gone, clears it.
    const other = await inspectLock(paths.breaker);
    if (other !== undefined && isStale(other)) await unlink(paths.breaker).catch(absent);
    return false;
  }
  try {
    await turn.writeFile(ownerLine(thisOwner(), randomBytes(8).toString("hex")));
    const again = await inspectLock(paths.lock);
    if (again?.line === seen.line && again.ino === seen.ino && again.mtimeMs === seen.mtimeMs) await unlink(paths.lock).catch(absent);
    return true;
  } finally {
    await turn.close();
    await unlink(paths.breaker).catch(absent);
  }
}

/**
 * Takes the lock file for the caller's read-compare-replace and resolves with it open for writing.
 *
 * Why a lock file: compare-and-set needs "read the stored revision, then replace" to be one step
 * for every process, and rename alone cannot compare. An exclusive create (`open(path, "wx")`,
 * O_CREAT|O_EXCL) is atomic on local file systems, so exactly one process holds the lock; its first
 * line names the holder (see lockOwner). Others retry with a randomised backoff (1 ms doubling
 * to 50 ms) until `timeoutMs`, then fail. A holder that crashed leaves its lock behind: a lock older
 * than 5 s whose owner is gone (see isStale) is removed, by one breaker at a time, and the create retried.
 */
async function acquireLock(paths: LockPaths, timeoutMs: number, signal: AbortSignal | undefined): Promise<FileHandle> {
  signal?.throwIfAborted();
  // The usual case, a free lock, without the loop's bookkeeping.
  const free = await createExclusive(paths.lock);
  return free ?? (await waitForLock(paths, timeoutMs, signal));
}

async function waitForLock(paths: LockPaths, timeoutMs: number, signal: AbortSignal | undefined): Promise<FileHandle> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) {
      signal?.throwIfAborted();
      const handle = await createExclusive(paths.lock);
      if (handle !== undefined) return handle;
    }
    const lock = await inspectLock(paths.lock);
    if (lock === undefined) continue; // released meanwhile
    if (isStale(lock) && (await breakStale(paths, lock))) continue;
    if (Date.now() >= deadline) throw new Error(`the lock file ${paths.lock} is held by process ${lock.owner.pid}; gave up after ${timeoutMs} ms`);
    await untilAborted(sleep(Math.min(50, 2 ** attempt) * (0.5 + Math.random())), signal);
  }
}

async function discardLock(handle: FileHandle, path: string): Promise<void> {
  await Promise.all([handle.close().catch(ignore), unlink(path).catch(ignore)]);
}

const closeQuietly = (handle: FileHandle | undefined): Promise<void> => (handle === undefined ? Promise.resolve() : handle.close().catch(ignore));

// The stored record's first line (undefined: no record), read under the lock, and the closing of
// the file, which need not delay the caller.
async function storedFirstLine(target: string): Promise<{ line: FirstLine | undefined; closing: Promise<void> }> {
  const handle = await open(target, "r").catch(absent);
  if (handle === undefined) return { line: undefined, closing: Promise.resolve() };
  try {
    return { line: await readFirstLine(handle), closing: closeQuietly(handle) };
  } catch (error) {
    await closeQuietly(handle);
    throw error;
  }
}

/** A record a previous replace wrote, still open, and the length in bytes of its first line. */
export interface KeptHandle {
  readonly handle: FileHandle;
  readonly lineBytes: number;
}

// The first line of the record `kept` holds (the one this provider wrote last), if it is still the
// record and that line is no longer than the one written; undefined when that is not known. It is
// still the record if its link count is 1: a writer that renamed a new record over it, or deleted
// it, made that 0, and an open file keeps its inode, so no new file can have taken it meanwhile.
// Synchronous on purpose: two calls on a file this process has open and has just written, so its
// pages are in memory, take a microsecond each, where a round trip through the thread pool costs tens.
function keptFirstLine(kept: KeptHandle): FirstLine | undefined {
  try {
    if (fstatSync(kept.handle.fd).nlink !== 1) return undefined;
    const chunk = Buffer.allocUnsafe(kept.lineBytes + 1);
    const bytesRead = readSync(kept.handle.fd, chunk, 0, chunk.length, 0);
    return lineIn(chunk, bytesRead, bytesRead < chunk.length);
  } catch {
    return undefined;
  }
}

async function writeAll(handle: FileHandle, text: string, durable: boolean): Promise<void> {
  await handle.writeFile(text, "utf8");
  if (durable) await handle.sync();
}

// Windows cannot rename over a file that is open, so there nothing is kept and a lock is closed
// before its rename, as any atomic write does.
const keepHandles = process.platform !== "win32";

export interface ReplaceOptions {
  readonly directory: string;
  readonly target: string;
  readonly lock: LockPaths;
  /**
   * The whole new record. Called once the lock's create is under way, so that encoding runs while
   * the file system works; if it throws, the lock is removed once taken and nothing is written.
   */
  readonly render: () => string;
  /** Flush the new record before it replaces the old, and the directory after. */
  readonly durable: boolean;
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
  /** Called under the lock with the stored record's first line (undefined: no record); throws to refuse the replace. */
  readonly check: (stored: FirstLine | undefined) => void;
  /** What a previous replace of `target` resolved with, whose handle this call closes whatever happens. */
  readonly kept: KeptHandle | undefined;
}

/**
 * Compare-and-set replace of `target` by the rendered record in the calls of a plain atomic write:
 * the lock file is the temporary file. It is created exclusively and the record written (and
 * flushed) into it; `check` decides on the stored record's header; the rename over the record
 * publishes the new one and releases the lock in one step. A refused or failed replace removes
 * the lock and leaves the record as it was.
 *
 * The header is read through `kept` when that is still the record, else from the record, opened
 * once the lock is held. Resolves with the new record's handle, open, for the next `kept`
 * (undefined on Windows); whoever holds it closes it.
 */
export async function replaceLocked(options: ReplaceOptions): Promise<KeptHandle | undefined> {
  const { target, lock, durable, kept } = options;
  try {
    const acquiring = acquireLock(lock, options.timeoutMs, options.signal);
    let text: string;
    try {
      text = options.render();
    } catch (error) {
      // Nothing is written: the lock, once taken, is given back.
      const held = await acquiring.catch(ignore);
      if (held !== undefined) await discardLock(held, lock.lock);
      throw error;
    }
    const handle = await acquiring;
    let published = false;
    try {
      const known = kept === undefined ? undefined : keptFirstLine(kept);
      if (known === undefined) {
        const [stored] = await both(storedFirstLine(target), writeAll(handle, text, durable), (read) => read.closing, () => Promise.resolve());
        try {
          options.check(stored.line);
        } finally {
          await stored.closing;
        }
      } else {
        options.check(known);
        await writeAll(handle, text, durable);
      }
      if (!keepHandles) await handle.close();
      await Promise.all([rename(lock.lock, target), closeQuietly(kept?.handle)]);
      published = true;
    } finally {
      if (!published) await discardLock(handle, lock.lock);
    }
    if (durable) await syncDirectory(options.directory);
    return keepHandles ? { handle, lineBytes: Buffer.byteLength(text.slice(0, text.indexOf("\n"))) } : undefined;
  } finally {
    if (kept !== undefined) await closeQuietly(kept.handle);
  }
}

/** Removes `target` under its lock, and closes `kept`; resolves once the lock is released. */
export async function removeLocked(options: Omit<ReplaceOptions, "render" | "check" | "kept"> & { readonly kept: FileHandle | undefined }): Promise<void> {
  const { target, lock, durable, kept } = options;
  try {
    const handle = await acquireLock(lock, options.timeoutMs, options.signal);
    try {
      // The content only tells others whose lock it is, so the record can go meanwhile, and a failure
      // to write it does not fail the delete. Both settle before the lock is released.
      const owner = handle.writeFile(ownerLine(thisOwner(), randomBytes(8).toString("hex")));
      const [, removed] = await Promise.allSettled([owner, unlink(target).then(() => true, absent), closeQuietly(kept)]);
      if (removed.status === "rejected") throw removed.reason;
      if (removed.value === true && durable) await syncDirectory(options.directory);
    } finally {
      await handle.close().catch(ignore);
      await unlink(lock.lock).catch(absent);
    }
  } finally {
    await closeQuietly(kept);
  }
}

/**
 * Creates `directory` with its parents and removes leftover temporary files in it. With `durable`,
 * flushes the parents of what it created: a new directory is an entry in its parent, and a power
 * loss could otherwise take the directory and its records with it.
 */
export async function prepareDirectory(directory: string, durable: boolean): Promise<void> {
  const created = await mkdir(directory, { recursive: true });
  if (created !== undefined && durable) {
    for (let path = directory; path !== dirname(created); path = dirname(path)) await syncDirectory(dirname(path));
  }
  await removeLeftovers(directory, await readdir(directory));
}

/**
 * Removes what dead writers left among `names`: a stale lock (a save killed before its rename, by
 * the rule and the turn-taking that break one before a save, so an instance never written again
 * is cleaned too), and the temporary files of versions that wrote through one, once their writer
 * is dead or they are older than a minute. Best effort: a leftover that cannot be removed is only
 * clutter, never read.
 */
export async function removeLeftovers(directory: string, names: readonly string[]): Promise<void> {
  const now = Date.now();
  const removeTemporary = async (name: string, pid: number): Promise<void> => {
    const path = join(directory, name);
    const info = await stat(path);
    if (isGone({ pid }) || now - info.mtimeMs > staleTemporaryMs) await unlink(path);
  };
  const removeStaleLock = async (base: string): Promise<void> => {
    const paths = { lock: join(directory, lockFileName(base)), breaker: join(directory, breakerFileName(base)) };
    const seen = await inspectLock(paths.lock);
    if (seen !== undefined && isStale(seen)) await breakStale(paths, seen);
  };
  await Promise.all(
    names.map((name) => {
      const entry = classifyEntry(name);
      if (entry?.kind === "temporary") return removeTemporary(name, entry.pid).catch(ignore);
      if (entry?.kind === "lock") return removeStaleLock(entry.base).catch(ignore);
      return Promise.resolve();
    }),
  );
}
