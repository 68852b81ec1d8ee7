import { CliError } from "../cli/errors.js";
import type { OpenStore } from "../cli/stores.js";
import type { SnapshotKeys } from "../persistence/errors.js";
import { isDeadLetter } from "../persistence/recovery/dead-letter.js";
import type { WorkflowExecutionSnapshot } from "../persistence/snapshot.js";
import { isRestingDeadLetter } from "./views.js";

/**
 * The dead letter with its attempts back at 0: the next `resumeAll` of a coordinator takes it up
 * again, from where it stopped (a compensating one goes on undoing). Saved as the next revision,
 * so a store with compare-and-set refuses it when the record changed since it was read.
 */
export function revivedSnapshot(snapshot: WorkflowExecutionSnapshot, now: number): WorkflowExecutionSnapshot {
  return { ...snapshot, attempts: 0, revision: snapshot.revision + 1, updatedAt: new Date(now).toISOString() };
}

/** Retries the dead letter stored under `keys`; resolves with the revision saved. */
export async function retryDeadLetter(store: OpenStore, keys: SnapshotKeys, maxAttempts: number): Promise<number> {
  const snapshot = await store.provider.tryLoad(keys.foundryExecutionId, keys.workflowId);
  const named = `instance ${JSON.stringify(keys.foundryExecutionId)} / workflow key ${JSON.stringify(keys.workflowId)}`;
  if (snapshot === undefined) throw new CliError("NOT_FOUND", `no snapshot for ${named} in ${store.label}`);
  if (!isRestingDeadLetter(snapshot, maxAttempts, Date.now())) {
    const leased = isDeadLetter(snapshot, maxAttempts) ? `, claimed by ${JSON.stringify(snapshot.owner ?? "")} until ${snapshot.leaseExpiresAt ?? ""}: a worker is running its last attempt` : "";
    const why = `it is ${snapshot.status} with ${snapshot.attempts ?? 0} of ${maxAttempts} attempts${leased}`;
    throw new CliError("REFUSED", `${named} is not a dead letter (${why}); only a dead letter is retried`);
  }
  const revived = revivedSnapshot(snapshot, Date.now());
  await store.provider.save(revived);
  return revived.revision;
}
