import { createHash } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { isWorkflowForgeError } from "../../../errors.js";
import type { SnapshotCodec } from "../../codec/codec.js";
import { PersistenceError, SnapshotConflictError, SnapshotCorruptedError, type ProviderCall, type SnapshotKeys } from "../../errors.js";
import { anyInstance, listKeys } from "../../keys.js";
import { listedReader, type ListedReader, type ListOptions } from "../../list-options.js";
import { eventKeys, type DeliveredEvent } from "../../mailbox.js";
import type { ProviderCapabilities, SnapshotFilter, WorkflowPersistenceProvider } from "../../provider.js";
import type { WorkflowExecutionSnapshot } from "../../snapshot.js";
import { SetupOnce, isAbortOf, requireEvent, throwIfAborted } from "../shared.js";
import { encodeForStorage, encodePayload } from "../stored.js";
import { prepareDirectory, readListed, removeLeftovers } from "./directory.js";
import { formatEvent, nextDeliveryTime } from "./event.js";
import { UnreadableEntryError, ignore, isPermissionDenied, openRecordFile, unreadableBy, type FirstLine } from "./fs.js";
import { turnNotCome, type LockPaths } from "./lock.js";
import { readMailbox, detachMailbox, storeEvent } from "./mailbox.js";
import { baseNameFor, breakerFileName, classifyEntry, eventFileName, lockFileName, mailboxDirectoryName, recordFileName } from "./names.js";
import { resolveOptions, type FileDurability, type FilePersistenceProviderOptions } from "./options.js";
import { thisOwner } from "./owner.js";
import { decodeRecord, formatRecord, headerMatches, parseRecordAt, storedRevision } from "./record.js";
import { WriterQueue } from "./queue.js";
import { removeLocked, replaceLocked, type LockedOptions } from "./replace.js";

const source = "file";
const listBatch = 32;

const sha256Hex = (text: string): string => createHash("sha256").update(text).digest("hex");

// A FIFO, a directory or a symbolic link under the record's name is an unreadable record, as
// list() reports it; anything but a directory under the mailbox's name, an unreadable mailbox.
const notARecord =
  (keys: SnapshotKeys) =>
  (error: unknown): never => {
    // One this process may not read may be intact: deleting it is no advice then.
    if (error instanceof UnreadableEntryError) throw new SnapshotCorruptedError(keys, isPermissionDenied(error.cause) ? unreadableBy(error.message, error.cause) : `${error.message}; delete removes it`, error.cause ?? error);
    throw error;
  };

/** The paths of one instance's files. */
interface InstancePaths extends LockPaths {
  readonly record: string;
  readonly mailbox: string;
}

/**
 * Stores each instance's snapshot in its own file under `directory`, using `node:fs` only. For
 * one machine and a local file system with hard links (not NFS or SMB: their locking and rename
 * are not reliable), and for processes that see each other's pids (containers sharing the
 * directory share a pid namespace).
 *
 * - **Names:** safe for any key (NUL, "/", "..", unicode, any length): lowercase base32 of the keys,
 *   or a SHA-256 when that would not fit a 143-byte name. See {@link FilePersistenceProvider.fileNameFor}.
 * - **Atomicity:** `save` writes the new record into a file of its own in the same directory
 *   (`t-<pid>-….tmp`) and renames it over the record, so a reader sees the old or the new
 *   snapshot, never a mix. `durability` says whether the file and the directory are flushed first.
 *   Such files left by a writer that died are removed on first use and by `list()`.
 * - **Compare-and-set across processes:** holding the instance's lock file, `save` reads the
 *   stored revision from the record's first line and renames its file over the record only if
 *   that revision is the one before its own; `delete` holds it while it removes the record. A
 *   writer takes the lock by hard-linking a file it wrote (a save's new record, whose header names
 *   the writer; a delete's line naming it) to the lock path: the link fails while the path
 *   exists, so one writer holds the lock at a time, and a lock always names its owner. A writer
 *   renames only its own file, and removes the lock only while it is still the file it linked.
 * - **Stale locks:** a lock is broken when it is older than `staleLockMs` and its owner is gone: a
 *   dead pid, a zombie or, on Linux, which tells when a process started, a pid now held by another
 *   process (a restarted container's process often gets the pid its crashed predecessor had);
 *   where a pid alone names the owner, also a lock from before the last boot. A live process's
 *   lock is never broken, however long it is stopped (SIGSTOP, a debugger, a paused VM), and
 *   neither is a lock that names no owner (not written by this provider): writers give up on it
 *   after `lockTimeoutMs`, with an error saying to remove it. One writer at a time breaks a lock
 *   (a `.break` file, linked the same way, gives the turn); first use and `list()` break stale
 *   locks too, so an instance never written again is cleaned. Otherwise a writer retries with a
 *   short randomised backoff until `lockTimeoutMs` after the call, then fails. Writers of one
 *   provider queue in memory before taking the lock, within that same `lockTimeoutMs`.
 * - **Mailbox:** an instance's events are files in `<name>.events/`, one per eventId. `deliver`
 *   writes its event into a file of its own and hard-links it to the event's name, so the first
 *   delivery wins, from any process, and no reader sees half an event; `receive` reads every event
 *   file of the instance; `delete` removes the directory after the record. There is no `claim()`
 *   nor `push`: the coordinator lists waiting records and asks each one's mailbox.
 * - **Errors:** file system failures reject with `PersistenceError` (`[workflowforge:file]`, the
 *   call, the keys, the `fs` error as `cause`); a refused save with `SnapshotConflictError`; an
 *   unreadable record (also when saving over it: `delete` removes it), or anything but a directory
 *   under a mailbox's name (a symbolic link is not followed), with `SnapshotCorruptedError`.
 * - **Cost:** a save makes the calls of a plain atomic write (create, write, close, rename; with
 *   `"fsync"` two flushes, which dominate: milliseconds on many disks), plus the lock's link and
 *   unlink and an open, read and close of the stored record for its revision. No file stays open
 *   between calls, so a provider per request holds no descriptors. `list()` reads every record
 *   but decodes only those whose header matches the filter.
 */
export class FilePersistenceProvider implements WorkflowPersistenceProvider {
  readonly capabilities: ProviderCapabilities = Object.freeze({ compareAndSet: true, list: true, mailbox: true });
  /** The absolute path of the directory. */
  readonly directory: string;
  readonly durability: FileDurability;
  readonly #durable: boolean;
  readonly #codec: SnapshotCodec;
  readonly #lockTimeoutMs: number;
  readonly #staleLockMs: number;
  readonly #queue = new WriterQueue();
  // The directory with a trailing separator, for the paths of its files.
  readonly #prefix: string;
  readonly #setUp = new SetupOnce(() => prepareDirectory(this.directory, this.#durable, this.#staleLockMs));

  constructor(options: FilePersistenceProviderOptions) {
    const { directory, durability, lockTimeoutMs, staleLockMs, codec } = resolveOptions(options);
    this.directory = resolve(directory);
    this.durability = durability;
    this.#durable = durability === "fsync";
    this.#lockTimeoutMs = lockTimeoutMs;
    this.#staleLockMs = staleLockMs;
    this.#codec = codec;
    this.#prefix = join(this.directory, "x").slice(0, -1);
  }

  /** The name, inside `directory`, of the file that holds the snapshot of these keys. */
  static fileNameFor(foundryExecutionId: string, workflowId: string): string {
    return recordFileName(baseNameFor(foundryExecutionId, workflowId, sha256Hex));
  }

  /** Rejects with `SnapshotConflictError` unless the stored revision is `snapshot.revision - 1`. */
  save(snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal): Promise<void> {
    const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
    const deadline = Date.now() + this.#lockTimeoutMs;
    return this.#run("save", keys, signal, async () => {
      const base = baseNameFor(keys.foundryExecutionId, keys.workflowId, sha256Hex);
      const paths = this.#paths(base);
      // Encoded as it is now, before any wait; a snapshot the codec refuses writes nothing.
      const text = formatRecord(snapshot, encodeForStorage(this.#codec, snapshot), thisOwner());
      const check = (stored: FirstLine | undefined): void => {
        const revision = stored === undefined ? 0 : storedRevision(stored, paths.record, keys);
        if (snapshot.revision === revision + 1) return;
        throw new SnapshotConflictError({ source, call: "save", keys, detail: `revision ${snapshot.revision} was refused: the stored revision is ${revision}` });
      };
      await this.#write(base, paths, deadline, signal, (locking) => replaceLocked({ ...locking, text, check })).catch(notARecord(keys));
    });
  }

  tryLoad(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): Promise<WorkflowExecutionSnapshot | undefined> {
    const keys = { foundryExecutionId, workflowId };
    return this.#run("tryLoad", keys, signal, async () => {
      const path = join(this.directory, FilePersistenceProvider.fileNameFor(foundryExecutionId, workflowId));
      const handle = await openRecordFile(path).catch(notARecord(keys));
      if (handle === undefined) return undefined;
      try {
        return decodeRecord(this.#codec, await handle.readFile("utf8"), path, keys);
      } finally {
        await handle.close().catch(ignore);
      }
    });
  }

  delete(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.#lockTimeoutMs;
    return this.#run("delete", { foundryExecutionId, workflowId }, signal, async () => {
      const base = baseNameFor(foundryExecutionId, workflowId, sha256Hex);
      const paths = this.#paths(base);
      // The mailbox is moved aside before the record goes, under its lock: an event delivered after
      // that is kept for the next instance of these keys, and none is removed with the record after
      // its sender was told it was stored. A crash in between leaves the record without its
      // mailbox, to be deleted again; a new run of these keys cannot save before both are gone.
      await this.#write(base, paths, deadline, signal, (locking) => removeLocked(locking, () => detachMailbox(this.directory, paths.mailbox, this.#durable)));
    });
  }

  /** Stores `event` unless its instance holds an event with its `eventId`, from any process: one exclusive link. */
  async deliver(event: DeliveredEvent, signal?: AbortSignal): Promise<boolean> {
    requireEvent(event, "FilePersistenceProvider.deliver(event)");
    return this.#run("deliver", eventKeys(event), signal, () => {
      // Encoded first: a payload the codec refuses writes nothing.
      const text = formatEvent(event, encodePayload(this.#codec, event), nextDeliveryTime());
      const { mailbox } = this.#paths(baseNameFor(event.foundryExecutionId, event.workflowId, sha256Hex));
      return storeEvent({ directory: this.directory, mailbox, file: join(mailbox, eventFileName(event.eventId, sha256Hex)) }, text, this.#durable).catch(notARecord(eventKeys(event)));
    });
  }

  /** The instance's events named `name`, oldest delivery first. Reads every event file of the instance. */
  receive(keys: SnapshotKeys, name: string, signal?: AbortSignal): Promise<DeliveredEvent[]> {
    const { foundryExecutionId, workflowId } = keys;
    return this.#run("receive", { foundryExecutionId, workflowId }, signal, () => {
      const { mailbox } = this.#paths(baseNameFor(foundryExecutionId, workflowId, sha256Hex));
      const fileNameFor = (eventId: string): string => eventFileName(eventId, sha256Hex);
      return readMailbox({ mailbox, keys: { foundryExecutionId, workflowId }, fileNameFor, codec: this.#codec }, name, signal).catch(notARecord({ foundryExecutionId, workflowId }));
    });
  }

  /**
   * Snapshots matching `filter`, in no particular order. Reads every record file (32 at a time),
   * decodes only those whose header matches, and holds the result in memory. Rejects with
   * `SnapshotCorruptedError` if a record cannot be read (its content, or a file under a record's
   * name that this process may not read, or a directory), or with `options.onUnreadable` hands
   * that error to it, leaves the record out and lists the others. Ignores lock files and files it
   * did not write.
   */
  async list(filter?: SnapshotFilter, signal?: AbortSignal, options?: ListOptions): Promise<WorkflowExecutionSnapshot[]> {
    // Before #run, which would wrap the TypeError of bad options as a storage failure.
    const read = listedReader(filter, options, "FilePersistenceProvider");
    return await this.#run("list", listKeys(filter), signal, async () => {
      const names = await readdir(this.directory);
      await removeLeftovers(this.directory, names, this.#staleLockMs);
      const records = names.filter((name) => classifyEntry(name)?.kind === "record");
      const found: WorkflowExecutionSnapshot[] = [];
      for (let start = 0; start < records.length; start += listBatch) {
        throwIfAborted(signal);
        const batch = await Promise.all(records.slice(start, start + listBatch).map((name) => this.#listed(name, filter, read)));
        for (const snapshot of batch) if (snapshot !== undefined) found.push(snapshot);
      }
      return found;
    });
  }

  async #listed(name: string, filter: SnapshotFilter | undefined, read: ListedReader): Promise<WorkflowExecutionSnapshot | undefined> {
    const path = join(this.directory, name);
    const file = await readListed(path);
    if (file === undefined) return undefined;
    return read(() => {
      if (!("text" in file)) throw new SnapshotCorruptedError(anyInstance, unreadableBy(`${path} cannot be read: ${file.unreadable}`, file.cause), file.cause);
      const { header } = parseRecordAt(file.text, path, anyInstance);
      const keys = { foundryExecutionId: header.foundryExecutionId, workflowId: header.workflowId };
      // A copied or renamed record: tryLoad and delete of its keys would never reach it.
      if (name !== FilePersistenceProvider.fileNameFor(keys.foundryExecutionId, keys.workflowId)) throw new SnapshotCorruptedError(keys, `${path} is not the file named for its keys`);
      return headerMatches(header, filter) ? decodeRecord(this.#codec, file.text, path, keys) : undefined;
    });
  }

  // Every call: reject if aborted, set up the directory once, and turn fs failures into PersistenceError.
  async #run<T>(call: ProviderCall, keys: SnapshotKeys, signal: AbortSignal | undefined, body: () => Promise<T>): Promise<T> {
    try {
      throwIfAborted(signal);
      if (!this.#setUp.done) await this.#setUp.get();
      return await body();
    } catch (error) {
      if (isWorkflowForgeError(error) || isAbortOf(error, signal)) throw error;
      throw new PersistenceError({ source, call, keys, cause: error });
    }
  }

  #paths(base: string): InstancePaths {
    const prefix = this.#prefix + base;
    const lock = { directory: this.directory, lock: prefix + lockFileName(""), breaker: prefix + breakerFileName("") };
    return { ...lock, record: prefix + recordFileName(""), mailbox: prefix + mailboxDirectoryName("") };
  }

  // Waits for this provider's writers of the instance before it, then for the lock file, both
  // within the one lockTimeoutMs that started when the call was made.
  #write(base: string, paths: InstancePaths, deadline: number, signal: AbortSignal | undefined, body: (locking: LockedOptions) => Promise<void>): Promise<void> {
    const timeoutMs = this.#lockTimeoutMs;
    const locking = { target: paths.record, lock: paths, durable: this.#durable, deadline, timeoutMs, staleLockMs: this.#staleLockMs, signal };
    return this.#queue.run(base, { signal, deadline, timedOut: () => turnNotCome(paths.lock, timeoutMs) }, () => body(locking));
  }
}
