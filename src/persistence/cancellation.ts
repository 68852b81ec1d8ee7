import { WorkflowCancelledError, isWorkflowForgeError, type ErrorLocation } from "../errors.js";
import type { SnapshotKeys } from "./errors.js";
import { loadSnapshot } from "./provider-call.js";
import { leaseCheckMs } from "./lease.js";
import { leaseRanOut } from "./run-claim.js";
import type { WorkflowPersistenceProvider } from "./provider.js";

/**
 * How long after the deadline a run that ignores it may take: its lease runs out, is found so at
 * the lease keeper's next check, and its conflict is explained (as long again, see explainConflict).
 */
export const lostClaimSettleMs = (leaseMs: number): number => leaseMs + 2 * Math.ceil(leaseCheckMs(leaseMs));

/**
 * What a run that lost its claim reports: `WorkflowCancelledError` when the write that took the
 * instance from it was a cancellation (`coordinator.cancel`), else the conflict itself. Costs one
 * load, on that path only. A leased run gives the load at most one lease (`leaseMs`), and a quarter
 * of one when the lease ran out unanswered: the store may have stopped, and the run, having waited
 * out one lease already (and up to a quarter more until the next check), must still settle soon.
 */
export async function explainConflict(provider: WorkflowPersistenceProvider, keys: SnapshotKeys, conflict: unknown, location: ErrorLocation, leaseMs?: number): Promise<unknown> {
  if (!(isWorkflowForgeError(conflict) && conflict.code === "SNAPSHOT_CONFLICT")) return conflict;
  const boundMs = leaseMs === undefined ? undefined : leaseRanOut(conflict) ? Math.ceil(leaseCheckMs(leaseMs)) : leaseMs;
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
