import { createHash } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { isWorkflowForgeError, messageOf } from "../../errors.js";
import { describe as describeValue, rejectUnknownKeys } from "../../internal/validate.js";
import { defaultSnapshotCodec, type SnapshotCodec } from "../codec.js";
import { PersistenceError, SnapshotConflictError, SnapshotCorruptedError, describeKeys, type ProviderCall, type SnapshotKeys } from "../errors.js";
import { listedReader, type ListedReader, type ListOptions } from "../list-options.js";
import type { ProviderCapabilities, SnapshotFilter, WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { thisOwner } from "./file-owner.js";
import { absent, prepareDirectory, removeLeftovers, removeLocked, replaceLocked, untilAborted, type FirstLine, type KeptHandle, type LockPaths } from "./file-io.js";
import * as layout from "./file-names.js";
import { decodeFromStorage, encodeForStorage } from "./stored.js";

/** `"fsync"`: a resolved save survives power loss. `"none"`: it survives a crash of the process only. */
export type FileDurability = "fsync" | "none";

export interface FilePersistenceProviderOptions {
  /** Directory holding one file per instance, created with its parents on first use. A relative path is resolved at construction. */
  readonly directory: string;
  /**
   * `"fsync"` flushes the record and the directory to the disk before `save` and `delete` resolve.
   * `"none"` skips both: much faster, still atomic for a crash of the process, but a power loss can
   * lose the last checkpoints (and, on some file systems, leave an empty record that then loads as
   * `SnapshotCorruptedError`). @default "fsync"
   */
  readonly durability?: FileDurability;
  /** How long `save` and `delete` wait for another writer's lock on the same instance before failing. @default 10_000 */
  readonly lockTimeoutMs?: number;
  /** Turns a snapshot into the text stored after the record's header line and back. @default defaultSnapshotCodec */
  readonly codec?: SnapshotCodec;
}

const where = "FilePersistenceProvider(options)";
const source = "file";
const listBatch = 32;
// The keys named by errors of list(), which concern no single instance.
const anyKeys: SnapshotKeys = Object.freeze({ foundryExecutionId: "*", workflowId: "*" });

const sha256Hex = (text: string): string => createHash("sha256").update(text).digest("hex");

// Records whose handle a provider keeps open, so that its next save of the instance reads the
// stored revision without opening the file: the most recently saved ones, one descriptor each.
const maxKept = 64;
// A provider dropped without a last delete closes what it kept when it is collected.
const keptClosers = new FinalizationRegistry<Map<string, KeptRecord>>((kept) => {
  for (const { handle } of kept.values()) void handle.close().catch(() => undefined);
});

/** A record this provider wrote, still open: its header line and revision spare the next save parsing it. */
interface KeptRecord extends KeptHandle {
  readonly line: string;
  readonly revision: number;
}

/** The paths of one instance's files. */
interface InstancePaths extends LockPaths {
  readonly record: string;
}

function validateOptions(input: unknown): Required<FilePersistenceProviderOptions> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) throw new TypeError(`${where}: options must be an object with a directory, got ${describeValue(input)}`);
  rejectUnknownKeys(input, ["directory", "durability", "lockTimeoutMs", "codec"], where);
  const { directory, durability = "fsync", lockTimeoutMs = 10_000, codec = defaultSnapshotCodec } = input as Partial<FilePersistenceProviderOptions>;
  if (typeof directory !== "string" || directory === "" || directory.includes("\0")) {
    throw new TypeError(`${where}: options.directory must be a non-empty path without NUL, got ${describeValue(directory)}`);
  }
  if (durability !== "fsync" && durability !== "none") throw new TypeError(`${where}: options.durability must be "fsync" or "none", got ${describeValue(durability)}`);
  if (typeof lockTimeoutMs !== "number" || !Number.isFinite(lockTimeoutMs) || lockTimeoutMs < 0) {
    throw new TypeError(`${where}: options.lockTimeoutMs must be a non-negative finite number, got ${describeValue(lockTimeoutMs)}`);
  }
  if (typeof codec !== "object" || codec === null || typeof codec.encode !== "function" || typeof codec.decode !== "function") {
    throw new TypeError(`${where}: options.codec must be an object with encode and decode functions, got ${describeValue(codec)}`);
  }
  return { directory: resolve(directory), durability, lockTimeoutMs, codec };
}

const sameKeys = (a: SnapshotKeys, b: SnapshotKeys): boolean => a.foundryExecutionId === b.foundryExecutionId && a.workflowId === b.workflowId;

/**
 * Stores each instance's snapshot in its own file under `directory`, using `node:fs` only. For
 * one machine and a local file system (not NFS or SMB: their locking and rename are not reliable),
 * and for processes that see each other's pids (containers sharing the directory share a pid namespace).
 *
 * - **Names:** safe for any key (NUL, "/", "..", unicode, any length): lowercase base32 of the keys,
 *   or a SHA-256 when that would not fit a 143-byte name. See {@link FilePersistenceProvider.fileNameFor}.
 * - **Atomicity:** `save` writes the new record into a file of its own in the same directory and
 *   renames it over the record, so a reader sees the old or the new snapshot, never a mix.
 *   `durability` says whether the file and the directory are flushed first. Leftover temporary
 *   files of earlier versions (their writer died, or older than a minute) are removed on first use
 *   and by `list()`.
 * - **Compare-and-set across processes:** that file is the instance's lock file, created with an
 *   exclusive open (`wx`): holding it, `save` reads the stored revision from the record's first
 *   line, and the rename that publishes the new record also releases the lock. `delete` holds it
 *   while it removes the record. A lock is broken when it is older than 5 s and its owner (named
 *   in its first line) is gone: a dead pid, a lock from before the last boot or, on Linux, which
 *   tells when a process started, a zombie or a pid now held by another process (a restarted
 *   container's process often gets the pid its crashed predecessor had). One writer at a time
 *   breaks it (a `.break` file, created exclusively, gives the turn). First use and `list()`
 *   break such locks too, so an instance never written again is cleaned. Otherwise the writer
 *   retries with a short randomised backoff for up to `lockTimeoutMs`, then fails. Writers of one
 *   provider queue in memory before taking the lock.
 * - **Errors:** file system failures reject with `PersistenceError` (`[workflowforge:file]`, the
 *   call, the keys, the `fs` error as `cause`); a refused save with `SnapshotConflictError`; an
 *   unreadable record (also when saving over it: `delete` removes it) with `SnapshotCorruptedError`.
 * - **Cost:** a save makes the calls of a plain atomic write (create, write, close, rename; with
 *   `"fsync"` two flushes, which dominate: milliseconds on many disks) and reads the stored
 *   record's first line. It keeps the record it wrote open (one descriptor per instance, for the
 *   64 instances saved last; `delete` closes it, and so does collecting the provider), so that its
 *   next save of the instance reads that line without opening a file, once the link count shows
 *   that no other writer has replaced or deleted the record since; the descriptor it closes is
 *   then that one. Moving record files away while a provider runs is not supported. `list()`
 *   reads every record but decodes only those whose header matches the filter.
 */
export class FilePersistenceProvider implements WorkflowPersistenceProvider {
  readonly capabilities: ProviderCapabilities = Object.freeze({ compareAndSet: true, list: true });
  /** The absolute path of the directory. */
  readonly directory: string;
  readonly durability: FileDurability;
  readonly #durable: boolean;
  readonly #codec: SnapshotCodec;
  readonly #lockTimeoutMs: number;
  readonly #queues = new Map<string, Promise<void>>();
  // By base name, in the order of their last save: the record this provider wrote, still open.
  readonly #kept = new Map<string, KeptRecord>();
  // The directory with a trailing separator, for the paths of its files.
  readonly #prefix: string;
  #ready: Promise<void> | undefined;
  #isReady = false;

  constructor(options: FilePersistenceProviderOptions) {
    const { directory, durability, lockTimeoutMs, codec } = validateOptions(options);
    this.directory = directory;
    this.durability = durability;
    this.#durable = durability === "fsync";
    this.#lockTimeoutMs = lockTimeoutMs;
    this.#codec = codec;
    this.#prefix = join(directory, "x").slice(0, -1);
    keptClosers.register(this, this.#kept);
  }

  /** The name, inside `directory`, of the file that holds the snapshot of these keys. */
  static fileNameFor(foundryExecutionId: string, workflowId: string): string {
    return layout.recordFileName(layout.baseNameFor(foundryExecutionId, workflowId, sha256Hex));
  }

  /** Rejects with `SnapshotConflictError` unless the stored revision is `snapshot.revision - 1`. */
  save(snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal): Promise<void> {
    const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
    return this.#run("save", keys, signal, async () => {
      const base = layout.baseNameFor(keys.foundryExecutionId, keys.workflowId, sha256Hex);
      const paths = this.#paths(base);
      await this.#queued(base, signal, async () => {
        const kept = this.#take(base);
        // Encoded while the lock is being created; a snapshot the codec refuses writes nothing.
        let text = "";
        const render = (): string => (text = layout.formatRecord(snapshot, encodeForStorage(this.#codec, snapshot), thisOwner()));
        const check = (stored: FirstLine | undefined): void => {
          let revision = 0;
          if (stored !== undefined) {
            // The header this provider wrote there is not parsed again.
            revision = stored.complete && stored.line === kept?.line ? kept.revision : this.#parse(stored.complete ? `${stored.line}\n` : stored.line, paths.record, keys).header.revision;
          }
          if (snapshot.revision === revision + 1) return;
          throw new SnapshotConflictError({ source, call: "save", keys, detail: `revision ${snapshot.revision} was refused: the stored revision is ${revision}` });
        };
        const written = await replaceLocked({ directory: this.directory, target: paths.record, lock: paths, durable: this.#durable, timeoutMs: this.#lockTimeoutMs, signal, render, check, kept });
        if (written === undefined) return;
        const evicted = this.#keep(base, { handle: written.handle, lineBytes: written.lineBytes, line: text.slice(0, text.indexOf("\n")), revision: snapshot.revision });
        if (evicted !== undefined) await evicted;
      });
    });
  }

  tryLoad(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): Promise<WorkflowExecutionSnapshot | undefined> {
    const keys = { foundryExecutionId, workflowId };
    return this.#run("tryLoad", keys, signal, async () => {
      const path = join(this.directory, FilePersistenceProvider.fileNameFor(foundryExecutionId, workflowId));
      const text = await readFile(path, "utf8").catch(absent);
      return text === undefined ? undefined : this.#decode(text, path, keys);
    });
  }

  delete(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): Promise<void> {
    return this.#run("delete", { foundryExecutionId, workflowId }, signal, async () => {
      const base = layout.baseNameFor(foundryExecutionId, workflowId, sha256Hex);
      const paths = this.#paths(base);
      await this.#queued(base, signal, () => removeLocked({ directory: this.directory, target: paths.record, lock: paths, durable: this.#durable, timeoutMs: this.#lockTimeoutMs, signal, kept: this.#take(base)?.handle }));
    });
  }

  /**
   * Snapshots matching `filter`, in no particular order. Reads every record file (32 at a time),
   * decodes only those whose header matches, and holds the result in memory. Rejects with
   * `SnapshotCorruptedError` if a record cannot be read, or with `options.onUnreadable` hands that
   * error to it and leaves the record out. Ignores lock files and files it did not write.
   */
  async list(filter?: SnapshotFilter, signal?: AbortSignal, options?: ListOptions): Promise<WorkflowExecutionSnapshot[]> {
    // Before #run, which would wrap the TypeError of bad options as a storage failure.
    const read = listedReader(filter, options, "FilePersistenceProvider");
    return await this.#run("list", { ...anyKeys, workflowId: filter?.workflowId ?? "*" }, signal, async () => {
      const names = await readdir(this.directory);
      await removeLeftovers(this.directory, names);
      const records = names.filter((name) => layout.classifyEntry(name)?.kind === "record");
      const found: WorkflowExecutionSnapshot[] = [];
      for (let start = 0; start < records.length; start += listBatch) {
        signal?.throwIfAborted();
        const batch = await Promise.all(records.slice(start, start + listBatch).map((name) => this.#listed(name, filter, read)));
        for (const snapshot of batch) if (snapshot !== undefined) found.push(snapshot);
      }
      return found;
    });
  }

  async #listed(name: string, filter: SnapshotFilter | undefined, read: ListedReader): Promise<WorkflowExecutionSnapshot | undefined> {
    const path = join(this.directory, name);
    const text = await readFile(path, "utf8").catch(absent); // undefined: deleted since readdir
    if (text === undefined) return undefined;
    return read(() => {
      const { header } = this.#parse(text, path, anyKeys);
      const keys = { foundryExecutionId: header.foundryExecutionId, workflowId: header.workflowId };
      // A copied or renamed record: tryLoad and delete of its keys would never reach it.
      if (name !== FilePersistenceProvider.fileNameFor(keys.foundryExecutionId, keys.workflowId)) throw new SnapshotCorruptedError(keys, `${path} is not the file named for its keys`);
      return layout.headerMatches(header, filter) ? this.#decode(text, path, keys) : undefined;
    });
  }

  // Every call: reject if aborted, set up the directory once, and turn fs failures into PersistenceError.
  async #run<T>(call: ProviderCall, keys: SnapshotKeys, signal: AbortSignal | undefined, body: () => Promise<T>): Promise<T> {
    try {
      signal?.throwIfAborted();
      if (!this.#isReady) await this.#setUp();
      return await body();
    } catch (error) {
      if (isWorkflowForgeError(error)) throw error;
      if (signal?.aborted === true && error === signal.reason) throw error instanceof Error ? error : new Error(messageOf(error), { cause: error });
      throw new PersistenceError({ source, call, keys, cause: error });
    }
  }

  // Memoised, but only once it succeeded: a failed setup is retried by the next call.
  #setUp(): Promise<void> {
    this.#ready ??= prepareDirectory(this.directory, this.#durable).then(
      () => void (this.#isReady = true),
      (error: unknown) => {
        this.#ready = undefined;
        throw error;
      },
    );
    return this.#ready;
  }

  #paths(base: string): InstancePaths {
    const prefix = this.#prefix + base;
    return { record: prefix + layout.recordFileName(""), lock: prefix + layout.lockFileName(""), breaker: prefix + layout.breakerFileName("") };
  }

  // The kept record of `base`, now the caller's to pass on and close.
  #take(base: string): KeptRecord | undefined {
    const kept = this.#kept.get(base);
    this.#kept.delete(base);
    return kept;
  }

  // Resolves once the descriptor it had to give up for this one is closed; undefined when none.
  #keep(base: string, kept: KeptRecord): Promise<void> | undefined {
    this.#kept.set(base, kept);
    if (this.#kept.size <= maxKept) return undefined;
    const [oldest, evicted] = this.#kept.entries().next().value as [string, KeptRecord];
    this.#kept.delete(oldest);
    return evicted.handle.close().catch(() => undefined);
  }

  // One writer per instance in this provider (a queue, so 8 concurrent saves do not all spin on the
  // lock file); across providers and processes, the lock file.
  async #queued(base: string, signal: AbortSignal | undefined, body: () => Promise<void>): Promise<void> {
    const previous = this.#queues.get(base);
    let release = (): void => undefined;
    const turn = new Promise<void>((resolve) => (release = resolve));
    const tail = previous === undefined ? turn : previous.then(() => turn);
    this.#queues.set(base, tail);
    try {
      if (previous !== undefined) await untilAborted(previous, signal);
      await body();
    } finally {
      release();
      if (this.#queues.get(base) === tail) this.#queues.delete(base);
    }
  }

  // Header only; throws SnapshotCorruptedError naming `keys` (the ones asked for) when unreadable or another pair's.
  #parse(text: string, path: string, keys: SnapshotKeys): ReturnType<typeof layout.parseRecord> {
    let record: ReturnType<typeof layout.parseRecord>;
    try {
      record = layout.parseRecord(text);
    } catch (error) {
      throw new SnapshotCorruptedError(keys, `${path}: ${messageOf(error)}`, error);
    }
    if (keys !== anyKeys && !sameKeys(keys, record.header)) throw new SnapshotCorruptedError(keys, `${path} holds the record of ${describeKeys(record.header)}`);
    return record;
  }

  #decode(text: string, path: string, keys: SnapshotKeys): WorkflowExecutionSnapshot {
    const { header, body } = this.#parse(text, path, keys);
    const snapshot = decodeFromStorage(this.#codec, body, keys);
    try {
      layout.checkAgainstHeader(snapshot, header);
    } catch (error) {
      throw new SnapshotCorruptedError(keys, `${path}: ${messageOf(error)}`, error);
    }
    return snapshot;
  }
}
