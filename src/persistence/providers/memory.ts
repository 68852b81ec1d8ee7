import { requireOptionalBoolean } from "../../internal/validate.js";
import type { SnapshotCodec } from "../codec/codec.js";
import { SnapshotConflictError, type SnapshotKeys } from "../errors.js";
import { deepCopy } from "../clone.js";
import { listedReader, type ListedReader, type ListOptions } from "../list-options.js";
import type { DeliveredEvent } from "../mailbox.js";
import { claimArrivedLate, claimedSnapshot, isClaimable, type ClaimRequest, type ProviderCapabilities, type SnapshotFilter, type WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { encodedPayloads, livePayloads, MemoryMailbox, type PayloadStorage } from "./memory-mailbox.js";
import { asError, codecOption, providerOptions, requireEvent, throwIfAborted } from "./shared.js";
import { decodeFromStorage, encodeForStorage } from "./stored.js";

/** The options of `new MemoryPersistenceProvider(options)`. */
export interface MemoryPersistenceProviderOptions {
  /**
   * Keep deep copies of the live objects instead of encoding them: faster, but it accepts what
   * every durable store refuses (a function is kept as it is, a cycle stays a cycle, a class
   * instance comes back as a plain object of its fields). Only for tests and benchmarks that know
   * their properties are plain data. Cannot be combined with `codec`.
   * @default false
   */
  readonly live?: boolean | undefined;
  /** Turns a snapshot into the text stored and back, as the storage providers' option does. @default defaultSnapshotCodec */
  readonly codec?: SnapshotCodec | undefined;
}

const where = "MemoryPersistenceProvider(options)";

// A waiting record's due state, kept beside its data so that claim() passes over one that is not
// due without decoding it: its wakeAt (Infinity without one), the event it waits for, and whether
// a delivery of that event marked it due since its last save.
interface Wait {
  readonly wakeMs: number;
  readonly name: string | undefined;
  readonly marked: boolean;
}

// What one stored snapshot is kept as: the codec's text, or (live) a deep copy of the object.
interface Stored {
  readonly revision: number;
  readonly data: unknown;
  readonly wait: Wait | undefined;
}

// A record claim() chose, read, and the map it is written back to.
interface Candidate {
  readonly workflows: Map<string, Stored>;
  readonly workflowId: string;
  readonly snapshot: WorkflowExecutionSnapshot;
  readonly wait: Wait | undefined;
}

interface Storage {
  readonly write: (snapshot: WorkflowExecutionSnapshot) => unknown;
  readonly read: (data: unknown, keys: SnapshotKeys) => WorkflowExecutionSnapshot;
  readonly payloads: PayloadStorage;
}

const liveStorage: Storage = { write: deepCopy, read: (data) => deepCopy(data as WorkflowExecutionSnapshot), payloads: livePayloads };

// A save recomputes the due state from the snapshot it stores: a delivery's mark is cleared, and a
// waiting save is marked itself when the mailbox already holds an event the wait has not consumed
// (delivered while the save was on its way: the run that saved may die before its re-read).
function waitOf(snapshot: WorkflowExecutionSnapshot, mailbox: MemoryMailbox): Wait | undefined {
  if (snapshot.status !== "waiting") return undefined;
  const { foundryExecutionId, workflowId, waitingFor: name, consumedEvents } = snapshot;
  const marked = name !== undefined && mailbox.holdsUnconsumed({ foundryExecutionId, workflowId }, name, consumedEvents);
  return { wakeMs: snapshot.wakeAt === undefined ? Infinity : Date.parse(snapshot.wakeAt), name, marked };
}

function storageOf(input: unknown): Storage {
  const { live = false, codec } = providerOptions<MemoryPersistenceProviderOptions>(input, where, ["live", "codec"]);
  requireOptionalBoolean(live, `${where}: options.live`);
  if (live && codec !== undefined) throw new TypeError(`${where}: options.codec cannot be combined with live: true, which stores objects, not encoded text`);
  if (live) return liveStorage;
  const chosen = codecOption(codec, where);
  return { write: (snapshot) => encodeForStorage(chosen, snapshot), read: (data, keys) => decodeFromStorage(chosen, data as string, keys), payloads: encodedPayloads(chosen) };
}

/**
 * Keeps snapshots in this process's memory: for tests, development and single-process apps that
 * only need resume after a failure, not after a crash. Supports compare-and-set, list, claim, the
 * event mailbox and push (to listeners in this process).
 *
 * By default every save encodes the snapshot with the codec and every load decodes it, so it
 * accepts and refuses exactly what a durable store does: a function, a class instance or a cycle
 * is refused with `SnapshotSerializationError` before anything is stored, and a Date, Map or
 * BigInt comes back as itself. Neither a caller mutating a snapshot nor a later save changes what
 * is stored. `{ live: true }` keeps deep copies of the objects instead (see its option). Event
 * payloads are kept the same way, by the built-in value encoding (a custom `codec` encodes
 * snapshots only).
 *
 * `save`, `tryLoad` and `delete` are synchronous and throw (`list`, `claim`, `deliver`, `receive`
 * and `subscribe` return a promise). Throws
 * `TypeError` for invalid options.
 */
export class MemoryPersistenceProvider implements WorkflowPersistenceProvider {
  readonly capabilities: ProviderCapabilities = Object.freeze({ compareAndSet: true, list: true, claim: true, mailbox: true, push: true });
  // By instance, then by workflow: a pair of keys needs no separator, and the snapshot's own key
  // strings (the same objects on every save of a run) keep their hashes, where a joined key would
  // be a new string to hash on every call.
  readonly #store = new Map<string, Map<string, Stored>>();
  readonly #storage: Storage;
  readonly #mailbox: MemoryMailbox;
  #size = 0;

  constructor(options?: MemoryPersistenceProviderOptions) {
    this.#storage = storageOf(options);
    this.#mailbox = new MemoryMailbox(this.#storage.payloads);
  }

  /** How many snapshots are stored. */
  get size(): number {
    return this.#size;
  }

  save(snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal): void {
    throwIfAborted(signal);
    // Encoding first, as a durable store does: a snapshot the codec refuses stores nothing.
    const data = this.#storage.write(snapshot);
    const { foundryExecutionId, workflowId } = snapshot;
    let workflows = this.#store.get(foundryExecutionId);
    const stored = workflows?.get(workflowId)?.revision ?? 0;
    if (snapshot.revision !== stored + 1) {
      const keys = { foundryExecutionId, workflowId };
      throw new SnapshotConflictError({ keys, call: "save", detail: `revision ${snapshot.revision} was refused: the stored revision is ${stored}` });
    }
    if (workflows === undefined) this.#store.set(foundryExecutionId, (workflows = new Map<string, Stored>()));
    if (stored === 0) this.#size++;
    workflows.set(workflowId, { revision: snapshot.revision, data, wait: waitOf(snapshot, this.#mailbox) });
  }

  tryLoad(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): WorkflowExecutionSnapshot | undefined {
    throwIfAborted(signal);
    const stored = this.#store.get(foundryExecutionId)?.get(workflowId);
    return stored === undefined ? undefined : this.#storage.read(stored.data, { foundryExecutionId, workflowId });
  }

  delete(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): void {
    throwIfAborted(signal);
    this.#mailbox.delete({ foundryExecutionId, workflowId });
    const workflows = this.#store.get(foundryExecutionId);
    if (workflows?.delete(workflowId) !== true) return;
    this.#size--;
    if (workflows.size === 0) this.#store.delete(foundryExecutionId);
  }

  // Only a custom codec's decode can make a record unreadable; `options` is validated like every provider's.
  list(filter?: SnapshotFilter, signal?: AbortSignal, options?: ListOptions): Promise<WorkflowExecutionSnapshot[]> {
    try {
      throwIfAborted(signal);
      const read = listedReader(filter, options, "MemoryPersistenceProvider");
      const listed: WorkflowExecutionSnapshot[] = [];
      for (const [foundryExecutionId, workflows] of this.#store) {
        for (const [workflowId, stored] of workflows) {
          const snapshot = read(() => this.#storage.read(stored.data, { foundryExecutionId, workflowId }));
          if (snapshot !== undefined) listed.push(snapshot);
        }
      }
      return Promise.resolve(listed);
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  // Synchronous inside, so no other call can claim between the check and the write. Every record
  // is read, checked and encoded before any is written: a claim that throws has taken nothing.
  claim(request: ClaimRequest, signal?: AbortSignal, options?: ListOptions): Promise<WorkflowExecutionSnapshot[]> {
    try {
      if (signal?.aborted === true) throw signal.reason instanceof Error ? signal.reason : new Error("aborted");
      if (claimArrivedLate(request)) return Promise.resolve([]);
      const read = listedReader(undefined, options, "MemoryPersistenceProvider");
      const claims = this.#claimable(request, read).map((candidate) => {
        const next = claimedSnapshot(candidate.snapshot, request);
        return { ...candidate, next, data: this.#storage.write(next) };
      });
      // The claimed data stays waiting, and so does its due state: due again once this lease ends.
      for (const { workflows, workflowId, next, data, wait } of claims) workflows.set(workflowId, { revision: next.revision, data, wait });
      return Promise.resolve(claims.map(({ next }) => next));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  // Up to request.limit records claim(request) may take, read, with where each is kept.
  #claimable(request: ClaimRequest, read: ListedReader): Candidate[] {
    const now = Date.parse(request.now);
    const chosen: Candidate[] = [];
    for (const [foundryExecutionId, workflows] of this.#store) {
      for (const [workflowId, { data, wait }] of workflows) {
        if (chosen.length >= request.limit) return chosen;
        if (wait !== undefined && !wait.marked && !(wait.wakeMs <= now)) continue;
        const snapshot = read(() => this.#storage.read(data, { foundryExecutionId, workflowId }));
        if (snapshot !== undefined && isClaimable(snapshot, request, wait?.marked)) chosen.push({ workflows, workflowId, snapshot, wait });
      }
    }
    return chosen;
  }

  // One synchronous write: storing the event and marking its waiting record happen together.
  deliver(event: DeliveredEvent, signal?: AbortSignal): Promise<boolean> {
    try {
      throwIfAborted(signal);
      requireEvent(event, "MemoryPersistenceProvider.deliver(event)");
      if (!this.#mailbox.deliver(event)) return Promise.resolve(false);
      const workflows = this.#store.get(event.foundryExecutionId);
      const stored = workflows?.get(event.workflowId);
      if (workflows !== undefined && stored?.wait !== undefined && stored.wait.name === event.name && !stored.wait.marked) {
        workflows.set(event.workflowId, { ...stored, wait: { ...stored.wait, marked: true } });
        this.#mailbox.notify();
      }
      return Promise.resolve(true);
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  receive(keys: SnapshotKeys, name: string, signal?: AbortSignal): Promise<DeliveredEvent[]> {
    try {
      throwIfAborted(signal);
      return Promise.resolve(this.#mailbox.receive(keys, name));
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  /** Calls `listener` after each delivery that marked a record due; only deliveries to this object. */
  subscribe(listener: () => void, signal?: AbortSignal): Promise<() => Promise<void>> {
    try {
      throwIfAborted(signal);
      return Promise.resolve(this.#mailbox.subscribe(listener));
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }
}
