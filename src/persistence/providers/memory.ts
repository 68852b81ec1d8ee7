import { SnapshotConflictError } from "../errors.js";
import { deepCopy } from "../clone.js";
import { listedReader, type ListOptions } from "../list-options.js";
import type { ProviderCapabilities, SnapshotFilter, WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";

function throwIfAborted(signal: AbortSignal | undefined): void {
  signal?.throwIfAborted();
}

/**
 * Keeps snapshots in this process's memory: for tests, development and single-process apps that
 * only need resume after a failure, not after a crash. Stores deep copies, so neither a caller
 * mutating a snapshot nor a later save changes what is stored. Supports compare-and-set and list.
 */
export class MemoryPersistenceProvider implements WorkflowPersistenceProvider {
  readonly capabilities: ProviderCapabilities = Object.freeze({ compareAndSet: true, list: true });
  // By instance, then by workflow: a pair of keys needs no separator, and the snapshot's own key
  // strings (the same objects on every save of a run) keep their hashes, where a joined key would
  // be a new string to hash on every call.
  readonly #store = new Map<string, Map<string, WorkflowExecutionSnapshot>>();
  #size = 0;

  /** How many snapshots are stored. */
  get size(): number {
    return this.#size;
  }

  save(snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal): void {
    throwIfAborted(signal);
    const { foundryExecutionId, workflowId } = snapshot;
    let workflows = this.#store.get(foundryExecutionId);
    const stored = workflows?.get(workflowId)?.revision ?? 0;
    if (snapshot.revision !== stored + 1) {
      const keys = { foundryExecutionId, workflowId };
      throw new SnapshotConflictError({ keys, call: "save", detail: `revision ${snapshot.revision} was refused: the stored revision is ${stored}` });
    }
    const copy = deepCopy(snapshot);
    if (workflows === undefined) this.#store.set(foundryExecutionId, (workflows = new Map<string, WorkflowExecutionSnapshot>()));
    if (stored === 0) this.#size++;
    workflows.set(workflowId, copy);
  }

  tryLoad(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): WorkflowExecutionSnapshot | undefined {
    throwIfAborted(signal);
    const stored = this.#store.get(foundryExecutionId)?.get(workflowId);
    return stored === undefined ? undefined : deepCopy(stored);
  }

  delete(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): void {
    throwIfAborted(signal);
    const workflows = this.#store.get(foundryExecutionId);
    if (workflows?.delete(workflowId) !== true) return;
    this.#size--;
    if (workflows.size === 0) this.#store.delete(foundryExecutionId);
  }

  // Nothing stored here is unreadable; `options` is still validated like every provider's.
  list(filter?: SnapshotFilter, signal?: AbortSignal, options?: ListOptions): Promise<WorkflowExecutionSnapshot[]> {
    try {
      if (signal?.aborted === true) throw signal.reason instanceof Error ? signal.reason : new Error("aborted");
      const read = listedReader(filter, options, "MemoryPersistenceProvider");
      const all = [...this.#store.values()].flatMap((workflows) => [...workflows.values()]);
      return Promise.resolve(all.flatMap((snapshot) => read(() => snapshot) ?? []).map(deepCopy));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
