// The file system mechanics of FilePersistenceProvider: atomic replace, per-instance lock files,
// directory flushes and cleanup. Everything here throws the plain `fs` error; the provider turns
// it into a PersistenceError naming the call and the keys.

import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, readdir, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { uptime } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { classifyEntry, temporaryFileName } from "./file-names.js";

// A lock this old may be broken if its owner is gone; a temporary file this old is a leftover.
const staleLockMs = 5_000;
const staleTemporaryMs = 60_000;

const errorCode = (error: unknown): unknown => (typeof error === "object" && error !== null && "code" in error ? error.code : undefined);

/** A catch handler that turns the one expected error (ENOENT: gone already) into undefined. */
export const absent = (error: unknown): undefined => {
  if (errorCode(error) === "ENOENT") return undefined;
  throw error;
};

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

function isAlive(pid: number): boolean {
  // 0 and negative pids would address process groups.
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) !== "ESRCH"; // EPERM: alive, another user's
  }
}

/** Flushes a directory's entries (a rename, an unlink) to the disk. */
export async function syncDirectory(directory: string): Promise<void> {
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

// Temp file in the same directory (rename is atomic only within one file system), flushed before
// the rename so that the name never points at data still in flight, then the directory flushed so
// that the rename itself is on the disk.
export async function writeAtomically(directory: string, target: string, text: string, durable: boolean): Promise<void> {
  const temporary = join(directory, temporaryFileName(process.pid, randomBytes(8).toString("hex")));
  try {
    const handle = await open(temporary, "wx");
    try {
      await handle.writeFile(text, "utf8");
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, target);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  if (durable) await syncDirectory(directory);
}

interface LockState {
  readonly content: string;
  readonly ino: number;
  readonly mtimeMs: number;
}

async function tryCreateLock(path: string, content: string): Promise<boolean> {
  let handle: FileHandle;
  try {
    handle = await open(path, "wx");
  } catch (error) {
    if (errorCode(error) === "EEXIST") return false;
    throw error;
  }
  try {
    await handle.writeFile(content);
  } catch (error) {
    await unlink(path).catch(() => undefined);
    throw error;
  } finally {
    await handle.close();
  }
  return true;
}

async function inspectLock(path: string): Promise<LockState | undefined> {
  const content = await readFile(path, "utf8").catch(absent);
  const info = content === undefined ? undefined : await stat(path).catch(absent);
  return content === undefined || info === undefined ? undefined : { content, ino: info.ino, mtimeMs: info.mtimeMs };
}

// Old (a negative age, after the clock was set back, never is) and its owner gone: its pid is dead
// (or was never written), or it predates the last boot (its pid may now be someone else's). A live
// pid's lock is never broken, this process's included: worker threads share the pid.
function isStale(lock: LockState): boolean {
  const now = Date.now();
  if (now - lock.mtimeMs <= staleLockMs) return false;
  return lock.mtimeMs < now - uptime() * 1000 || !isAlive(Number.parseInt(lock.content, 10));
}

/**
 * Takes the lock file `path` for the caller's read-compare-rename; {@link releaseLock} gives it back.
 *
 * Why a lock file: compare-and-set needs "read the stored revision, then replace" to be one step
 * for every process, and rename alone cannot compare. An exclusive create (`open(path, "wx")`,
 * O_CREAT|O_EXCL) is atomic on local file systems, so exactly one process holds the lock; the
 * content `<pid> <random>` says who. Others retry with a randomised backoff (1 ms doubling to
 * 50 ms) until `timeoutMs`, then fail. A holder that crashed leaves its lock behind: a lock older
 * than 5 s whose owner is gone (see isStale) is removed and the create retried. Breaking has one
 * narrow race, between the re-read and the unlink, with a process that broke the same lock a
 * moment earlier; it needs two processes recovering one crashed lock in the same microseconds.
 */
export async function acquireLock(path: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
  const content = `${process.pid} ${randomBytes(8).toString("hex")}\n`;
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    if (await tryCreateLock(path, content)) return;
    const lock = await inspectLock(path);
    if (lock === undefined) continue; // released meanwhile
    if (isStale(lock)) {
      // Re-read right before removing: of two processes that found the same stale lock, the slower
      // one must not remove the lock the faster one has created since.
      const again = await inspectLock(path);
      if (again?.content === lock.content && again.ino === lock.ino && again.mtimeMs === lock.mtimeMs) await unlink(path).catch(absent);
      continue;
    }
    if (Date.now() >= deadline) throw new Error(`the lock file ${path} is held by process ${Number.parseInt(lock.content, 10)}; gave up after ${timeoutMs} ms`);
    await untilAborted(sleep(Math.min(50, 2 ** attempt) * (0.5 + Math.random())), signal);
  }
}

export async function releaseLock(path: string): Promise<void> {
  await unlink(path).catch(absent);
}

// Reads up to the first newline without reading the (possibly megabytes of) snapshot after it.
export async function readHeaderLine(path: string): Promise<{ line: string; complete: boolean } | undefined> {
  const handle = await open(path, "r").catch(absent);
  if (handle === undefined) return undefined;
  try {
    const chunks: Buffer[] = [];
    for (let position = 0; ; ) {
      const chunk = Buffer.alloc(Math.max(4096, position));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
      const end = chunk.subarray(0, bytesRead).indexOf(10);
      chunks.push(chunk.subarray(0, end === -1 ? bytesRead : end));
      if (end !== -1 || bytesRead === 0) return { line: Buffer.concat(chunks).toString("utf8"), complete: end !== -1 };
      position += bytesRead;
    }
  } finally {
    await handle.close();
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
 * Removes the temporary files among `names` whose writer is dead or that are older than a minute:
 * what a crash between write and rename leaves. Best effort: one that cannot be removed is only
 * clutter, never read.
 */
export async function removeLeftovers(directory: string, names: readonly string[]): Promise<void> {
  const now = Date.now();
  const remove = async (name: string, pid: number): Promise<void> => {
    const path = join(directory, name);
    const info = await stat(path);
    if (!isAlive(pid) || now - info.mtimeMs > staleTemporaryMs) await unlink(path);
  };
  await Promise.all(
    names.map((name) => {
      const entry = classifyEntry(name);
      return entry?.kind === "temporary" ? remove(name, entry.pid).catch(() => undefined) : Promise.resolve();
    }),
  );
}
