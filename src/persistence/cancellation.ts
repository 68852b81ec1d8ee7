import { WorkflowCancelledError, isWorkflowForgeError, type ErrorLocation } from "../errors.js";
import type { SnapshotKeys } from "./errors.js";
import { loadSnapshot } from "./provider-call.js";
import type { WorkflowPersistenceProvider } from "./provider.js";

/**
 * What a run that lost its claim reports: `WorkflowCancelledError` when the write that took the
 * instance from it was a cancellation (`coordinator.cancel`), else the conflict itself. Costs one
 * load, on that path only. A leased run gives the load at most one lease (`boundMs`): the claim may
 * have been lost to a store that stopped answering, and the run must still settle.
 */
export async function explainConflict(provider: WorkflowPersistenceProvider, keys: SnapshotKeys, conflict: unknown, location: ErrorLocation, boundMs?: number): Promise<unknown> {
  if (!(isWorkflowForgeError(conflict) && conflict.code === "SNAPSHOT_CONFLICT")) return conflict;
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const gaveUp = new Promise<undefined>((resolve) => {
    if (boundMs === undefined) return;
    timer = setTimeout(() => {
      controller.abort();
      resolve(undefined);
    }, boundMs);
  });
  try {
    const stored = await Promise.race([loadSnapshot(provider, keys, controller.signal, location), gaveUp]);
    if (stored?.cancelledAt !== undefined) return new WorkflowCancelledError(location, `it was cancelled at ${stored.cancelledAt}, so this run stopped at its next save`);
  } catch {
    // The store cannot say why: the conflict is what is known.
  } finally {
    clearTimeout(timer);
  }
  return conflict;
}
