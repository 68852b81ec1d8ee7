// The atomic replace and the delete of one record, each under the instance's lock (lock.ts). A
// reader sees the old record or the new, never a mix: the new one is written in full into a file of
// the writer's own and renamed over the old. Nothing stays open between calls. Everything here
// throws the plain `fs` error, or what the caller's check throws.

import { randomBytes } from "node:crypto";
import { lstat, rename, rm, unlink } from "node:fs/promises";
import { absent, errorCode, ignore, openRecordFile, readFirstLine, syncDirectory, type FirstLine } from "./fs.js";
import { acquireLock, isStill, unlinkIfStill, writeOwnFile, type LockPaths, type LockTiming } from "./lock.js";
import { ownerLine, thisOwner } from "./owner.js";

// The stored record's first line (undefined: no record), and the closing of the file, which need
// not delay the caller (it never rejects).
async function storedFirstLine(target: string): Promise<{ line: FirstLine | undefined; closed: Promise<void> }> {
  const handle = await openRecordFile(target);
  if (handle === undefined) return { line: undefined, closed: Promise.resolve() };
  try {
    return { line: await readFirstLine(handle), closed: handle.close().catch(ignore) };
  } catch (error) {
    await handle.close().catch(ignore);
    throw error;
  }
}

const lost = (path: string): Error => new Error(`the lock file ${path} was removed while this writer held it (its owner was judged gone); nothing was written`);

/** What one atomic replace needs: the record, its lock, the new text and the check made under the lock. */
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

/** What removing a record under its lock needs: a replace's options without the new text and check. */
export type LockedOptions = Omit<ReplaceOptions, "text" | "check">;

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

/**
 * Removes `target` under its lock. `detach`, when given, runs first, still holding it, and returns
 * what removes the rest after the target (what belongs to the record: a new record of the same
 * keys, which needs the lock, cannot come before both are gone); resolves once the lock is released.
 */
export async function removeLocked(options: LockedOptions, detach?: () => Promise<() => Promise<void>>): Promise<void> {
  const { lock, durable } = options;
  const own = await writeOwnFile(lock.directory, ownerLine(thisOwner(), randomBytes(8).toString("hex")), false);
  let removed: true | undefined;
  try {
    await acquireLock(lock, own, options);
    try {
      const removeDetached = await detach?.();
      removed = await unlink(options.target).then(() => true as const, (error: unknown) => removeDirectory(options.target, error));
      await removeDetached?.();
    } finally {
      await unlinkIfStill(lock.lock, own.ino);
    }
  } finally {
    // Kept until the lock is released, so that no other file can take its inode meanwhile.
    await Promise.all([own.closed, unlink(own.path).catch(ignore)]);
  }
  if (removed === true && durable) await syncDirectory(lock.directory);
}

// A directory under the record's name (which list() reports as unreadable) is removed with what is
// in it: delete is how an unreadable record goes. Any other failure of the unlink is thrown.
async function removeDirectory(target: string, error: unknown): Promise<true | undefined> {
  const code = errorCode(error);
  if ((code !== "EISDIR" && code !== "EPERM") || !(await lstat(target)).isDirectory()) return absent(error);
  await rm(target, { recursive: true, force: true });
  return true;
}
