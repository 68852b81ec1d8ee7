// The provider's directory: created on first use, swept of what dead writers left, and read
// entry by entry for list(). Everything here throws the plain `fs` error.

import { mkdir, readdir, rm, stat, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import { UnreadableEntryError, errorCode, ignore, isEntryError, openRecordFile, syncDirectory } from "./fs.js";
import { breakIfStale, clearStaleBreaker } from "./lock.js";
import { breakerFileName, classifyEntry, lockFileName } from "./names.js";
import { isGone, type LockOwner } from "./owner.js";

// A temporary file this old whose writer cannot be told apart from a later process with its pid is a leftover.
const staleTemporaryMs = 60_000;

/** What list() finds at a record's name: its text, undefined when it is gone, or why it cannot be read. */
export type ListedFile = { readonly text: string } | { readonly unreadable: string; readonly cause?: unknown } | undefined;

/** Reads the record at `path` for list(): an entry that cannot be read is reported, a failure of the whole call thrown. */
export async function readListed(path: string): Promise<ListedFile> {
  let handle: FileHandle | undefined;
  try {
    handle = await openRecordFile(path);
    return handle === undefined ? undefined : { text: await handle.readFile("utf8") }; // undefined: deleted since readdir
  } catch (error) {
    if (error instanceof UnreadableEntryError) return { unreadable: error.reason, cause: error.cause };
    if (isEntryError(error)) return { unreadable: String(errorCode(error)), cause: error };
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

// A writer's own file (or a mailbox a delete moved aside) once the writer is gone; where only its
// pid names it, also once a minute old.
async function removeTemporary(path: string, owner: LockOwner): Promise<void> {
  const gone = isGone(owner) || (owner.started === undefined && Date.now() - (await stat(path)).mtimeMs > staleTemporaryMs);
  if (gone) await rm(path, { recursive: true, force: true });
}

/**
 * Removes what dead writers left among `names`: stale locks (by the rule and the turn-taking that
 * break one before a save, so an instance never written again is cleaned too), the files of
 * breakers that died at it (by the same rule), and their own files.
 * Best effort: a leftover that cannot be removed is only clutter, never read.
 */
export async function removeLeftovers(directory: string, names: readonly string[], staleLockMs: number): Promise<void> {
  await Promise.all(
    names.map((name) => {
      const entry = classifyEntry(name);
      if (entry?.kind === "temporary") return removeTemporary(join(directory, name), entry.owner).catch(ignore);
      if (entry?.kind === "breaker") return clearStaleBreaker(join(directory, name), staleLockMs).catch(ignore);
      if (entry?.kind !== "lock") return Promise.resolve();
      const paths = { directory, lock: join(directory, lockFileName(entry.base)), breaker: join(directory, breakerFileName(entry.base)) };
      return breakIfStale(paths, staleLockMs).catch(ignore);
    }),
  );
}
