// The file system helpers the file provider's lock, replace and directory code share. Each throws
// the plain `fs` error; the provider turns it into a PersistenceError naming the call and keys.

import { constants } from "node:fs";
import { access, open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";

/** The `code` of a Node.js system error (ENOENT, EEXIST, ...); undefined for anything else. */
export const errorCode = (error: unknown): unknown => (typeof error === "object" && error !== null && "code" in error ? error.code : undefined);

/** A catch handler that turns the one expected error (ENOENT: gone already) into undefined. */
export const absent = (error: unknown): undefined => {
  if (errorCode(error) === "ENOENT") return undefined;
  throw error;
};

// Windows has neither flag (nor FIFOs): there a symbolic link is followed.
const nonBlocking = (constants.O_NONBLOCK as number | undefined) ?? 0;
const noFollow = (constants.O_NOFOLLOW as number | undefined) ?? 0;

// What opening or reading an entry list() found fails with when that entry is at fault: list()
// reports such a record and goes on. Others (EMFILE, ENOMEM, ...) concern the whole call.
const entryErrors = new Set<unknown>(["EACCES", "EPERM", "EISDIR", "ELOOP", "ENXIO", "EIO"]);

/** True when `error` refuses this process on the file's mode or owner: the record may be intact. */
export const isPermissionDenied = (error: unknown): boolean => errorCode(error) === "EACCES" || errorCode(error) === "EPERM";

/** How a record this process may not read is reported: nothing says it is damaged, so deleting it is no advice. */
export const unreadableBy = (reason: string, cause: unknown): string =>
  isPermissionDenied(cause) ? `${reason} (this process may not read it: run as the store's owner, or change the file's mode)` : reason;

/** True when `error` is an entry's own failure (see entryErrors), not the whole call's. */
export const isEntryError = (error: unknown): boolean => entryErrors.has(errorCode(error));

/** Thrown by {@link openRecordFile} when what has a record's name cannot be read as one. */
export class UnreadableEntryError extends Error {
  constructor(
    readonly path: string,
    /** Why: "it is not a regular file", "it is a symbolic link", or the system error's code. */
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`${path} cannot be read: ${reason}`, options);
  }
}

// Failures of opening an entry that only the entry can cause.
const entryOnlyErrors = new Set<unknown>(["EISDIR", "ELOOP", "ENXIO"]);

// Whether opening `path` failed with `error` through the entry's own fault. A permission error is
// the entry's only when its directory can be read and searched: one that cannot fails every call,
// and is no record's fault. An I/O error is the device's.
async function entryAtFault(path: string, error: unknown): Promise<boolean> {
  const code = errorCode(error);
  if (entryOnlyErrors.has(code)) return true;
  if (code !== "EACCES" && code !== "EPERM") return false;
  return access(dirname(path), constants.R_OK | constants.X_OK).then(
    () => true,
    () => false,
  );
}

// With O_NOFOLLOW, ELOOP says the entry itself is a symbolic link (the directory's path is followed).
const reasonFor = (error: unknown): string => (errorCode(error) === "ELOOP" && noFollow !== 0 ? "it is a symbolic link" : String(errorCode(error)));

/**
 * Opens the record at `path` for reading; undefined when there is none. Non-blocking, so that a FIFO
 * under a record's name cannot hang the call (nor hold one of libuv's four threads). Anything but a
 * regular file there (a FIFO, a directory, a symbolic link), or one its own fault keeps closed (a
 * file this process may not read), throws {@link UnreadableEntryError}.
 */
export async function openRecordFile(path: string): Promise<FileHandle | undefined> {
  // Not following a symbolic link: this provider never makes one, and its writers link, rename and
  // unlink the entry itself, never what it points to. Followed, a dangling one would look like no
  // file at all, though link() finds the name taken: a lock nobody holds that no writer can take,
  // an event that stops its own delivery yet is never received.
  const handle = await open(path, constants.O_RDONLY | nonBlocking | noFollow).catch(async (error: unknown) => {
    if (await entryAtFault(path, error)) throw new UnreadableEntryError(path, reasonFor(error), { cause: error });
    return absent(error);
  });
  if (handle === undefined) return undefined;
  let regular = false;
  try {
    regular = (await handle.stat()).isFile();
  } finally {
    if (!regular) await handle.close().catch(ignore);
  }
  if (!regular) throw new UnreadableEntryError(path, "it is not a regular file");
  return handle;
}

/** A catch handler for cleanup whose failure changes nothing (removing a leftover that may be gone). */
export const ignore = (): undefined => undefined;

/** A file's first line, without its newline; `complete` is false when the file ends before one. */
export interface FirstLine {
  readonly line: string;
  readonly complete: boolean;
}

const lineIn = (chunk: Buffer, length: number): FirstLine => {
  const end = chunk.subarray(0, length).indexOf(10);
  return end === -1 ? { line: chunk.toString("utf8", 0, length), complete: false } : { line: chunk.toString("utf8", 0, end), complete: true };
};

/** Reads 4 KiB, not the (possibly megabytes of) snapshot after the header; a longer line is read with the rest. */
export async function readFirstLine(handle: FileHandle): Promise<FirstLine> {
  const chunk = Buffer.allocUnsafe(4096);
  const { bytesRead } = await handle.read(chunk, 0, chunk.length, 0);
  if (bytesRead < chunk.length || chunk.indexOf(10) !== -1) return lineIn(chunk, bytesRead);
  const whole = await handle.readFile();
  return lineIn(whole, whole.length);
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
