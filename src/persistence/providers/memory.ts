import { SnapshotConflictError } from "../errors.js";
import { deepCopy } from "../clone.js";
import { matchesFilter, type ProviderCapabilities, type SnapshotFilter, type WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";

function throwIfAborted(signal: AbortSignal | undefined): void {
  signal?.throwIfAborted();
}

// Length-prefixed, so injective: ("a|b", "c") and ("a", "b|c") never share a key.
function keyOf(foundryExecutionId: string, workflowId: string): string {
  return `${foundryExecutionId.length}:${foundryExecutionId}${workflowId}`;
}

/**
 * Keeps snapshots in this process's memory: for tests, development and single-process apps that
 * only need resume after a failure, not after a crash. Stores deep copies, so neither a caller
 * mutating a snapshot nor a later save changes what is stored. Supports compare-and-set and list.
 */
export class MemoryPersistenceProvider implements WorkflowPersistenceProvider {
  readonly capabilities: ProviderCapabilities = Object.freeze({ compareAndSet: true, list: true });
  readonly #store = new Map<string, WorkflowExecutionSnapshot>();

  /** How many snapshots are stored. */
  get size(): number {
    return this.#store.size;
  }

  save(snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal): void {
    throwIfAborted(signal);
    const key = keyOf(snapshot.foundryExecutionId, snapshot.workflowId);
    const stored = this.#store.get(key)?.revision ?? 0;
    if (snapshot.revision !== stored + 1) {
      const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
      throw new SnapshotConflictError({ keys, call: "save", detail: `revision ${snapshot.revision} was refused: the stored revision is ${stored}` });
    }
    this.#store.set(key, deepCopy(snapshot));
  }

  tryLoad(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): WorkflowExecutionSnapshot | undefined {
    throwIfAborted(signal);
    const stored = this.#store.get(keyOf(foundryExecutionId, workflowId));
    return stored === undefined ? undefined : deepCopy(stored);
  }

  delete(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): void {
    throwIfAborted(signal);
    this.#store.delete(keyOf(foundryExecutionId, workflowId));
  }

  list(filter?: SnapshotFilter, signal?: AbortSignal): Promise<WorkflowExecutionSnapshot[]> {
    if (signal?.aborted === true) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    return Promise.resolve([...this.#store.values()].filter((snapshot) => matchesFilter(snapshot, filter)).map(deepCopy));
  }
}
