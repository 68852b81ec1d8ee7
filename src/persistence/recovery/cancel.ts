import type { Clock } from "../../clock.js";
import { neverAborted, sleep } from "../../abort.js";
import { WorkflowCancelledError, isWorkflowForgeError } from "../../errors.js";
import { requireInstanceObject, requireName, requireOptionalBoolean, requireOptionalSignal, requireOptionsObject, rejectUnknownKeys } from "../../internal/validate.js";
import type { InstanceIdentity } from "../../types.js";
import { SnapshotConflictError, type SnapshotKeys } from "../errors.js";
import { callProvider, loadSnapshot } from "../provider-call.js";
import type { WorkflowPersistenceProvider } from "../provider.js";
import type { SnapshotStatus, WorkflowExecutionSnapshot } from "../snapshot.js";
import { storedError } from "../stored-error.js";

/** Options of `coordinator.cancel` and `cancelInstance`. */
export interface CancelOptions {
  /** Restore the completed operations (their `restore`, newest first) before the record ends `cancelled`. @default false */
  readonly compensate?: boolean | undefined;
  readonly signal?: AbortSignal | undefined;
}

/**
 * What a cancellation did: `cancelled` (stored so; nothing of it runs again), `compensating` (a
 * coordinator restores its completed operations, then stores it `cancelled`), `finished` (it had
 * completed or was cancelled already: nothing changed) or `absent` (nothing is stored). `status` is
 * what was stored before.
 */
export interface CancelOutcome extends InstanceIdentity {
  readonly result: "cancelled" | "compensating" | "finished" | "absent";
  readonly status?: SnapshotStatus;
}

// Each try is a compare-and-set on what was just loaded; only a run checkpointing in between makes
// another try. Tries back off (doubling to 64 ms, jittered): a run whose operations take no time
// saves again sooner than one load and one save of the store take, and only a pause between its
// checkpoints lets the cancellation land. About 2 s of tries, then a conflict that says so.
const maxTries = 40;
const backoffMs = (tries: number): number => Math.min(64, 2 ** tries) * (0.5 + Math.random());

/**
 * Cancels an instance, whatever it is doing. A waiting one never wakes. A running one is stopped by
 * its next save (a checkpoint or a lease renewal is refused, which aborts its operation's signal);
 * with `compensate`, its completed operations are restored once its lease has ended. A compensating
 * one finishes restoring (half-undone is worse than either end) and then ends `cancelled`.
 */
export function cancelInstance(provider: WorkflowPersistenceProvider, instance: InstanceIdentity, options: CancelOptions = {}, clock?: Clock): Promise<CancelOutcome> {
  const where = "cancel(instanceId, workflowKey, options)";
  requireInstanceObject(instance, "cancelInstance(provider, instance, options): instance");
  requireName(instance.instanceId, `${where}: instanceId`);
  requireName(instance.workflowKey, `${where}: workflowKey`);
  rejectUnknownKeys(requireOptionsObject(options, `${where}: options`), ["compensate", "signal"], `${where}: options`);
  requireOptionalBoolean(options.compensate, `${where}: options.compensate`);
  requireOptionalSignal(options.signal, `${where}: options.signal`);
  if (provider.capabilities?.compareAndSet !== true) throw new TypeError(`${where}: the provider must declare capabilities.compareAndSet, so that a cancellation cannot be overwritten by a run`);
  return cancelStored(provider, instance, options, clock);
}

// Arguments are checked synchronously, above: misuse throws at the call rather than rejecting.
async function cancelStored(provider: WorkflowPersistenceProvider, instance: InstanceIdentity, options: CancelOptions, clock: Clock | undefined): Promise<CancelOutcome> {
  const keys = { foundryExecutionId: instance.instanceId, workflowId: instance.workflowKey };
  for (let tries = 1; ; tries++) {
    const stored = await loadSnapshot(provider, keys, options.signal);
    if (stored === undefined) return { ...instance, result: "absent" };
    if (stored.status === "completed" || stored.status === "cancelled") return { ...instance, result: "finished", status: stored.status };
    const record = cancelledRecord(stored, options.compensate === true, new Date(clock?.now() ?? Date.now()).toISOString());
    try {
      await callProvider({ call: "save", keys }, () => provider.save(record, options.signal));
      return { ...instance, result: record.status === "compensating" ? "compensating" : "cancelled", status: stored.status };
    } catch (error) {
      if (!(isWorkflowForgeError(error) && error.code === "SNAPSHOT_CONFLICT")) throw error;
      if (tries >= maxTries) throw outpaced(keys, tries, error);
    }
    await sleep(backoffMs(tries), options.signal ?? neverAborted, { workflowName: stored.workflowName });
  }
}

function outpaced(keys: SnapshotKeys, tries: number, conflict: unknown): SnapshotConflictError {
  const detail = `the instance was saved again before each of ${tries} tries to store its cancellation landed: its run checkpoints faster than one load and one save of the store; nothing was cancelled, try again`;
  return new SnapshotConflictError({ source: "persistence", keys, call: "save", detail, cause: conflict });
}

/**
 * The record that cancels `stored`: `cancelled`, or `compensating` with every completed operation
 * still to restore. A live lease stays: the run holding it is stopped by its next save, and the
 * compensation starts once that lease has ended, never beside it.
 */
export function cancelledRecord(stored: WorkflowExecutionSnapshot, compensate: boolean, now: string): WorkflowExecutionSnapshot {
  const record: Record<string, unknown> = { ...stored, revision: stored.revision + 1, updatedAt: now, cancelledAt: stored.cancelledAt ?? now };
  delete record.wakeAt;
  delete record.waitingFor;
  // Restoring goes on with fresh attempts, as a failed one's starts: one that used them up would never end cancelled.
  if (stored.status === "compensating") return { ...record, attempts: 0 } as unknown as WorkflowExecutionSnapshot;
  if (compensate && stored.nextOperationIndex > 0) {
    const index = stored.nextOperationIndex;
    const error = new WorkflowCancelledError({ workflowName: stored.workflowName }, "compensating its completed operations");
    Object.assign(record, { status: "compensating", attempts: 0, error: storedError(error, index, "") });
    return record as unknown as WorkflowExecutionSnapshot;
  }
  record.status = "cancelled";
  delete record.leaseExpiresAt;
  return record as unknown as WorkflowExecutionSnapshot;
}
