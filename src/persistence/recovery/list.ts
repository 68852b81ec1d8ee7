import type { ListOptions } from "../list-options.js";
import type { SnapshotFilter, WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { anyInstance } from "../keys.js";
import { callProvider } from "../provider-call.js";


/**
 * Every snapshot `provider.list` yields for `filter`, whether it returns an array or an async
 * iterable. `options` is passed on only when given, so a provider sees the call it always saw.
 */
export function listSnapshots(provider: WorkflowPersistenceProvider, filter: SnapshotFilter, signal: AbortSignal | undefined, options?: ListOptions): Promise<WorkflowExecutionSnapshot[]> {
  return callProvider({ call: "list", keys: anyInstance }, async () => {
    const listed = options === undefined ? provider.list?.(filter, signal) : provider.list?.(filter, signal, options);
    if (listed === undefined) return [];
    if (!(Symbol.asyncIterator in listed)) return [...(await listed)];
    const snapshots: WorkflowExecutionSnapshot[] = [];
    for await (const snapshot of listed) snapshots.push(snapshot);
    return snapshots;
  });
}
