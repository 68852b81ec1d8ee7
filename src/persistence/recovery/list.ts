import type { ListOptions } from "../list-options.js";
import type { SnapshotFilter, WorkflowPersistenceProvider } from "../provider.js";
import { keysCarried, type WorkflowExecutionSnapshot } from "../snapshot.js";
import type { SnapshotCorruptedError, SnapshotKeys } from "../errors.js";
import { anyInstance } from "../keys.js";
import { callProvider, readSnapshot } from "../provider-call.js";
import { pendingEvent, type ReceivingProvider } from "../mailbox.js";
import { answeredWithin } from "./bounded-wait.js";

/**
 * Every snapshot `provider.list` yields for `filter`, whether it returns an array or an async
 * iterable. `options` is passed on only when given, so a provider sees the call it always saw.
 */
export async function listSnapshots(provider: WorkflowPersistenceProvider, filter: SnapshotFilter, signal: AbortSignal | undefined, options?: ListOptions): Promise<WorkflowExecutionSnapshot[]> {
  const entries = await callProvider({ call: "list", keys: anyInstance }, async () => {
    const listed = options === undefined ? provider.list?.(filter, signal) : provider.list?.(filter, signal, options);
    if (listed === undefined) return [];
    if (!(Symbol.asyncIterator in listed)) return [...(await listed)];
    const snapshots: unknown[] = [];
    for await (const snapshot of listed) snapshots.push(snapshot);
    return snapshots;
  });
  return entries.filter((entry): entry is WorkflowExecutionSnapshot => readable(entry, options?.onUnreadable));
}

// A hand-written list() may yield rows or encoded text, as a tryLoad may, or an object whose getter
// throws: such an entry is an unreadable record (SnapshotCorruptedError, under the keys it carries),
// not a TypeError deep in a pass.
function readable(entry: unknown, onUnreadable: ListOptions["onUnreadable"]): boolean {
  try {
    readSnapshot(entry, keysOf(entry), "list");
    return true;
  } catch (error) {
    if (onUnreadable === undefined) throw error;
    onUnreadable(error as SnapshotCorruptedError);
    return false;
  }
}

// The keys an entry carries, or the placeholder when reading them throws (a getter, a revoked proxy).
function keysOf(entry: unknown): SnapshotKeys {
  try {
    return keysCarried(entry);
  } catch {
    return anyInstance;
  }
}

/**
 * `snapshots` without the waiting ones that are not due at `now`: a waiting record is due when its
 * wake time came or an event it waits for is in its mailbox. For providers without `claim()`, which
 * decide this in the store; this reads the mailbox of each record waiting for an event.
 */
export async function dueSnapshots(
  provider: WorkflowPersistenceProvider,
  snapshots: readonly WorkflowExecutionSnapshot[],
  now: number,
  signal: AbortSignal,
  // A mailbox read that has not answered within this long fails its instance (the store hangs).
  boundMs: number,
  // One mailbox that cannot be read must not hold up the others: its failure is this instance's outcome.
  onUnreadable: (snapshot: WorkflowExecutionSnapshot, error: unknown) => void,
): Promise<WorkflowExecutionSnapshot[]> {
  const due: WorkflowExecutionSnapshot[] = [];
  for (const snapshot of snapshots) {
    if (snapshot.status !== "waiting" || (snapshot.wakeAt !== undefined && Date.parse(snapshot.wakeAt) <= now)) due.push(snapshot);
    else if (snapshot.waitingFor !== undefined && provider.receive !== undefined) {
      const { foundryExecutionId, workflowId, waitingFor } = snapshot;
      const keys = { foundryExecutionId, workflowId };
      try {
        const receiving = pendingEvent(provider as ReceivingProvider, keys, waitingFor, snapshot.consumedEvents, signal);
        if ((await answeredWithin(receiving, boundMs, "receive", keys)) !== undefined) due.push(snapshot);
      } catch (error) {
        if (signal.aborted) throw error;
        onUnreadable(snapshot, error);
      }
    }
  }
  return due;
}
