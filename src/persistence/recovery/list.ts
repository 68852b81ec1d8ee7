import type { SnapshotFilter, WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { callProvider } from "../provider-call.js";

// `list` names no instance; the error still needs keys to be a PersistenceError.
const everyInstance = Object.freeze({ foundryExecutionId: "*", workflowId: "*" });

/** Every snapshot `provider.list` yields for `filter`, whether it returns an array or an async iterable. */
export function listSnapshots(provider: WorkflowPersistenceProvider, filter: SnapshotFilter, signal: AbortSignal | undefined): Promise<WorkflowExecutionSnapshot[]> {
  return callProvider({ call: "list", keys: everyInstance }, async () => {
    const listed = provider.list?.(filter, signal);
    if (listed === undefined) return [];
    if (!(Symbol.asyncIterator in listed)) return [...(await listed)];
    const snapshots: WorkflowExecutionSnapshot[] = [];
    for await (const snapshot of listed) snapshots.push(snapshot);
    return snapshots;
  });
}
