import { WorkflowCancelledError, isWorkflowForgeError, type ErrorLocation } from "../errors.js";
import type { SnapshotKeys } from "./errors.js";
import { loadSnapshot } from "./provider-call.js";
import type { WorkflowPersistenceProvider } from "./provider.js";

/**
 * What a run that lost its claim reports: `WorkflowCancelledError` when the write that took the
 * instance from it was a cancellation (`coordinator.cancel`), else the conflict itself. Costs one
 * load, on that path only.
 */
export async function explainConflict(provider: WorkflowPersistenceProvider, keys: SnapshotKeys, conflict: unknown, location: ErrorLocation): Promise<unknown> {
  if (!(isWorkflowForgeError(conflict) && conflict.code === "SNAPSHOT_CONFLICT")) return conflict;
  try {
    const stored = await loadSnapshot(provider, keys, undefined, location);
    if (stored?.cancelledAt !== undefined) return new WorkflowCancelledError(location, `it was cancelled at ${stored.cancelledAt}, so this run stopped at its next save`);
  } catch {
    // The store cannot say why: the conflict is what is known.
  }
  return conflict;
}
