import { createHash } from "node:crypto";
import { readFile, readdir, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { isWorkflowForgeError, messageOf } from "../../errors.js";
import { describe as describeValue, rejectUnknownKeys } from "../../internal/validate.js";
import { defaultSnapshotCodec, type SnapshotCodec } from "../codec.js";
import { PersistenceError, SnapshotConflictError, SnapshotCorruptedError, describeKeys, type ProviderCall, type SnapshotKeys } from "../errors.js";
import { matchesFilter, type ProviderCapabilities, type SnapshotFilter, type WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { absent, acquireLock, prepareDirectory, readHeaderLine, releaseLock, removeLeftovers, syncDirectory, untilAborted, writeAtomically } from "./file-io.js";
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
 * one machine and a local file system (not NFS or SMB: their locking and rename are not reliable).
 *
 * - **Names:** safe for any key (NUL, "/", "..", unicode, any length): lowercase base32 of the keys,
 *   or a SHA-256 when that would not fit a 143-byte name. See {@link FilePersistenceProvider.fileNameFor}.
 * - **Atomicity:** `save` writes a temporary file in the same directory and renames it over the
 *   record, so a reader sees the old or the new snapshot, never a mix. `durability` says whether
 *   the file and the directory are flushed first. Leftover temporary files (their writer died, or
 *   older than a minute) are removed on first use and by `list()`.
 * - **Compare-and-set across processes:** `save` and `delete` hold a per-instance lock file,
 *   created with an exclusive open (`wx`), while they read the stored revision and rename. A lock
 *   is broken when it is older than 5 s and its owner is gone (a dead pid, or a lock from before
 *   the last boot); otherwise the writer retries with a short randomised backoff for up to
 *   `lockTimeoutMs`, then fails. Writers of one provider queue in memory before taking the lock.
 * - **Errors:** file system failures reject with `PersistenceError` (`[workflowforge:file]`, the
 *   call, the keys, the `fs` error as `cause`); a refused save with `SnapshotConflictError`; an
 *   unreadable record (also when saving over it: `delete` removes it) with `SnapshotCorruptedError`.
 * - **Cost:** a save reads the stored record's first line, writes the whole record and renames;
 *   with `"fsync"` two flushes, which dominate (milliseconds on many disks). `list()` reads every
 *   record but decodes only those whose header matches the filter.
 */
export class FilePersistenceProvider implements WorkflowPersistenceProvider {
  readonly capabilities: ProviderCapabilities = Object.freeze({ compareAndSet: true, list: true });
  /** The absolute path of the directory. */
  readonly directory: string;
  readonly durability: FileDurability;
  readonly #codec: SnapshotCodec;
  readonly #lockTimeoutMs: number;
  readonly #queues = new Map<string, Promise<void>>();
  #ready: Promise<void> | undefined;

  constructor(options: FilePersistenceProviderOptions) {
    const { directory, durability, lockTimeoutMs, codec } = validateOptions(options);
    this.directory = directory;
    this.durability = durability;
    this.#lockTimeoutMs = lockTimeoutMs;
    this.#codec = codec;
  }

  /** The name, inside `directory`, of the file that holds the snapshot of these keys. */
  static fileNameFor(foundryExecutionId: string, workflowId: string): string {
    return layout.recordFileName(layout.baseNameFor(foundryExecutionId, workflowId, sha256Hex));
  }

  /** Rejects with `SnapshotConflictError` unless the stored revision is `snapshot.revision - 1`. */
  save(snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal): Promise<void> {
    const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
    return this.#run("save", keys, signal, async () => {
      // Encoding first: a snapshot the codec refuses writes nothing.
      const record = layout.formatRecord(snapshot, encodeForStorage(this.#codec, snapshot));
      const base = layout.baseNameFor(keys.foundryExecutionId, keys.workflowId, sha256Hex);
      const target = join(this.directory, layout.recordFileName(base));
      await this.#exclusive(base, signal, async () => {
        const stored = await this.#storedRevision(target, keys);
        if (snapshot.revision !== stored + 1) {
          throw new SnapshotConflictError({ source, call: "save", keys, detail: `revision ${snapshot.revision} was refused: the stored revision is ${stored}` });
        }
        await writeAtomically(this.directory, target, record, this.durability === "fsync");
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
    const keys = { foundryExecutionId, workflowId };
    return this.#run("delete", keys, signal, async () => {
      const base = layout.baseNameFor(foundryExecutionId, workflowId, sha256Hex);
      await this.#exclusive(base, signal, async () => {
        const removed = await unlink(join(this.directory, layout.recordFileName(base))).then(() => true, absent);
        if (removed === true && this.durability === "fsync") await syncDirectory(this.directory);
      });
    });
  }

  /**
   * Snapshots matching `filter`, in no particular order. Reads every record file (32 at a time),
   * decodes only those whose header matches, and holds the result in memory. Rejects with
   * `SnapshotCorruptedError` if a record cannot be read. Ignores lock files and files it did not write.
   */
  list(filter?: SnapshotFilter, signal?: AbortSignal): Promise<WorkflowExecutionSnapshot[]> {
    return this.#run("list", { ...anyKeys, workflowId: filter?.workflowId ?? "*" }, signal, async () => {
      const names = await readdir(this.directory);
      await removeLeftovers(this.directory, names);
      const records = names.filter((name) => layout.classifyEntry(name)?.kind === "record");
      const found: WorkflowExecutionSnapshot[] = [];
      for (let start = 0; start < records.length; start += listBatch) {
        signal?.throwIfAborted();
        const batch = await Promise.all(records.slice(start, start + listBatch).map((name) => this.#listed(name, filter)));
        for (const snapshot of batch) if (snapshot !== undefined) found.push(snapshot);
      }
      return found;
    });
  }

  async #listed(name: string, filter: SnapshotFilter | undefined): Promise<WorkflowExecutionSnapshot | undefined> {
    const path = join(this.directory, name);
    const text = await readFile(path, "utf8").catch(absent); // undefined: deleted since readdir
    if (text === undefined) return undefined;
    const { header } = this.#parse(text, path, anyKeys);
    const keys = { foundryExecutionId: header.foundryExecutionId, workflowId: header.workflowId };
    // A copied or renamed record: tryLoad and delete of its keys would never reach it.
    if (name !== FilePersistenceProvider.fileNameFor(keys.foundryExecutionId, keys.workflowId)) throw new SnapshotCorruptedError(keys, `${path} is not the file named for its keys`);
    if (!layout.headerMatches(header, filter)) return undefined;
    const snapshot = this.#decode(text, path, keys);
    return matchesFilter(snapshot, filter) ? snapshot : undefined;
  }

  // Every call: reject if aborted, set up the directory once, and turn fs failures into PersistenceError.
  async #run<T>(call: ProviderCall, keys: SnapshotKeys, signal: AbortSignal | undefined, body: () => Promise<T>): Promise<T> {
    try {
      signal?.throwIfAborted();
      await this.#setUp();
      return await body();
    } catch (error) {
      if (isWorkflowForgeError(error)) throw error;
      if (signal?.aborted === true && error === signal.reason) throw error instanceof Error ? error : new Error(messageOf(error), { cause: error });
      throw new PersistenceError({ source, call, keys, cause: error });
    }
  }

  // Memoised, but only once it succeeded: a failed setup is retried by the next call.
  #setUp(): Promise<void> {
    this.#ready ??= prepareDirectory(this.directory, this.durability === "fsync").catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  // One writer per instance: first in this provider (a queue, so 8 concurrent saves do not all spin
  // on the file), then across providers and processes (the lock file).
  async #exclusive(base: string, signal: AbortSignal | undefined, body: () => Promise<void>): Promise<void> {
    const previous = this.#queues.get(base) ?? Promise.resolve();
    let done = (): void => undefined;
    const tail = previous.then(() => new Promise<void>((resolve) => (done = resolve)));
    this.#queues.set(base, tail);
    try {
      await untilAborted(previous, signal);
      const lockPath = join(this.directory, layout.lockFileName(base));
      await acquireLock(lockPath, this.#lockTimeoutMs, signal);
      try {
        await body();
      } finally {
        await releaseLock(lockPath);
      }
    } finally {
      done();
      if (this.#queues.get(base) === tail) this.#queues.delete(base);
    }
  }

  async #storedRevision(path: string, keys: SnapshotKeys): Promise<number> {
    const first = await readHeaderLine(path);
    if (first === undefined) return 0;
    const header = this.#parse(first.complete ? `${first.line}\n` : first.line, path, keys).header;
    return header.revision;
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
