// The file system mechanics of FilePersistenceProvider around its lock (file-lock.ts): the
// compare-and-set replace, the delete, reading records for list(), directory flushes and cleanup.
// Nothing stays open between calls. Everything here throws the plain `fs` error, or what the
// caller's check throws; the provider turns fs errors into a PersistenceError naming the call and keys.

import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import { breakerFileName, classifyEntry, lockFileName } from "./file-names.js";
import { isGone, ownerLine, thisOwner, type LockOwner } from "./file-owner.js";
import { absent, acquireLock, breakIfStale, errorCode, ignore, isStill, readFirstLine, unlinkIfStill, writeOwnFile, type FirstLine, type LockPaths, type LockTiming } from "./file-lock.js";

// A temporary file this old whose writer cannot be told apart from a later process with its pid is a leftover.
const staleTemporaryMs = 60_000;

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

// The stored record's first line (undefined: no record), and the closing of the file, which need
// not delay the caller (it never rejects).
async function storedFirstLine(target: string): Promise<{ line: FirstLine | undefined; closed: Promise<void> }> {
  const handle = await open(target, "r").catch(absent);
  if (handle === undefined) return { line: undefined, closed: Promise.resolve() };
  try {
    return { line: await readFirstLine(handle), closed: handle.close().catch(ignore) };
  } catch (error) {
    await handle.close().catch(ignore);
    throw error;
  }
}

const lost = (path: string): Error => new Error(`the lock file ${path} was removed while this writer held it (its owner was judged gone); nothing was written`);

export interface ReplaceOptions extends LockTiming {
  readonly target: string;
  readonly lock: LockPaths;
  /** The whole new record; its header names this process, the owner of the lock it becomes. */
  readonly text: string;
  /** Flush the new record before it replaces the old, and the directory after. */
  readonly durable: boolean;
  /** Called under the lock with the stored record's first line (undefined: no record); throws to refuse the replace. */
  readonly check: (stored: FirstLine | undefined) => void;
}

/**
 * Compare-and-set replace of `target`: the new record is written (and flushed) into a file of this
 * writer's, which is linked to the lock path to take the lock; holding it, `check` decides on the
 * stored record's header, and the writer renames its own file over the record, then unlinks the
 * lock. A refused or failed replace leaves the record as it was and removes what it wrote.
 */
export async function replaceLocked(options: ReplaceOptions): Promise<void> {
  const { lock, durable } = options;
  const own = await writeOwnFile(lock.directory, options.text, durable);
  let published = false;
  try {
    await acquireLock(lock, own, options);
    let stored: Promise<void> = Promise.resolve();
    try {
      const { line, closed } = await storedFirstLine(options.target);
      stored = closed;
      options.check(line);
      if (!isStill(lock.lock, own.ino)) throw lost(lock.lock);
      // Windows cannot rename a file that is still open.
      await own.closed;
      await rename(own.path, options.target);
      published = true;
    } finally {
      await Promise.all([unlinkIfStill(lock.lock, own.ino), stored]);
    }
  } finally {
    await Promise.all([own.closed, published ? undefined : unlink(own.path).catch(ignore)]);
  }
  if (durable) await syncDirectory(lock.directory);
}

/** Removes `target` under its lock; resolves once the lock is released. */
export async function removeLocked(options: Omit<ReplaceOptions, "text" | "check">): Promise<void> {
  const { lock, durable } = options;
  const own = await writeOwnFile(lock.directory, ownerLine(thisOwner(), randomBytes(8).toString("hex")), false);
  let removed: true | undefined;
  try {
    await acquireLock(lock, own, options);
    try {
      removed = await unlink(options.target).then(() => true as const, absent);
    } finally {
      await unlinkIfStill(lock.lock, own.ino);
    }
  } finally {
    // Kept until the lock is released, so that no other file can take its inode meanwhile.
    await Promise.all([own.closed, unlink(own.path).catch(ignore)]);
  }
  if (removed === true && durable) await syncDirectory(lock.directory);
}

/** What list() finds at a record's name: its text, undefined when it is gone, or why it cannot be read. */
export type ListedFile = { readonly text: string } | { readonly unreadable: string; readonly cause?: unknown } | undefined;

// Failures of one entry; others (EMFILE, ENOMEM, ...) concern the whole call.
const entryErrors = new Set<unknown>(["EACCES", "EPERM", "EISDIR", "ELOOP", "ENXIO", "EIO"]);
// Windows has no O_NONBLOCK.
const nonBlocking = (constants.O_NONBLOCK as number | undefined) ?? 0;

export async function readListed(path: string): Promise<ListedFile> {
  let handle: FileHandle | undefined;
  try {
    // Non-blocking, so that a FIFO named like a record cannot hang the listing.
    handle = await open(path, constants.O_RDONLY | nonBlocking);
    if (!(await handle.stat()).isFile()) return { unreadable: "it is not a regular file" };
    return { text: await handle.readFile("utf8") };
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined; // deleted since readdir
    if (entryErrors.has(errorCode(error))) return { unreadable: String(errorCode(error)), cause: error };
    throw error;
  } finally {
    await handle?.close().catch(ignore);
  }
}

/**
 * Creates `directory` with its parents and removes leftovers in it. With `durable`, flushes the
 * parents of what it created: a new directory is an entry in its parent, and a power loss could
 * otherwise take the directory and its records with it.
 */
export async function prepareDirectory(directory: string, durable: boolean, staleLockMs: number): Promise<void> {
  const created = await mkdir(directory, { recursive: true });
  if (created !== undefined && durable) {
    for (let path = directory; path !== dirname(created); path = dirname(path)) await syncDirectory(dirname(path));
  }
  await removeLeftovers(directory, await readdir(directory), staleLockMs);
}

// A writer's own file once the writer is gone; where only its pid names it, also once a minute old.
async function removeTemporary(path: string, owner: LockOwner): Promise<void> {
  const gone = isGone(owner) || (owner.started === undefined && Date.now() - (await stat(path)).mtimeMs > staleTemporaryMs);
  if (gone) await unlink(path);
}

/**
 * Removes what dead writers left among `names`: stale locks (by the rule and the turn-taking that
 * break one before a save, so an instance never written again is cleaned too) and their own files.
 * Best effort: a leftover that cannot be removed is only clutter, never read.
 */
export async function removeLeftovers(directory: string, names: readonly string[], staleLockMs: number): Promise<void> {
  await Promise.all(
    names.map((name) => {
      const entry = classifyEntry(name);
      if (entry?.kind === "temporary") return removeTemporary(join(directory, name), entry.owner).catch(ignore);
      if (entry?.kind !== "lock") return Promise.resolve();
      const paths = { directory, lock: join(directory, lockFileName(entry.base)), breaker: join(directory, breakerFileName(entry.base)) };
      return breakIfStale(paths, staleLockMs).catch(ignore);
    }),
  );
}
