import { isWorkflowForgeError, type ErrorLocation } from "../errors.js";
import { PersistenceError, SnapshotConflictError, type ProviderCall, type SnapshotKeys } from "./errors.js";
import type { WorkflowPersistenceProvider } from "./provider.js";
import { validateSnapshot, type WorkflowExecutionSnapshot } from "./snapshot.js";

export interface ProviderCallContext {
  readonly call: ProviderCall;
  readonly keys: SnapshotKeys;
  readonly location?: ErrorLocation | undefined;
  /** The revision a save tried to write, to explain a compare-and-set refusal. */
  readonly revision?: number | undefined;
}

/**
 * Calls the provider so that every failure, whatever was thrown and however (a rejection, a
 * synchronous throw, a non-Error value), reaches the caller as a typed error with the original as
 * `cause`: {@link SnapshotConflictError} for a refused compare-and-set, else {@link PersistenceError}.
 */
export async function callProvider<T>(context: ProviderCallContext, invoke: () => T | Promise<T>): Promise<T> {
  try {
    return await invoke();
  } catch (cause) {
    const { call, keys, location, revision } = context;
    const options = { keys, call, cause, location };
    if (isWorkflowForgeError(cause) && cause.code === "SNAPSHOT_CONFLICT") {
      const detail = revision === undefined ? undefined : `revision ${revision} was refused: the stored revision is not ${revision - 1}`;
      throw new SnapshotConflictError({ ...options, detail });
    }
    throw new PersistenceError(options);
  }
}

/**
 * `provider.tryLoad` through {@link callProvider}, validated: the snapshot stored under `keys`, or
 * `undefined` when none is (a provider may say so with `null`). A record of the wrong shape raises
 * `SnapshotCorruptedError`.
 */
export async function loadSnapshot(
  provider: WorkflowPersistenceProvider,
  keys: SnapshotKeys,
  signal: AbortSignal | undefined,
  location?: ErrorLocation,
): Promise<WorkflowExecutionSnapshot | undefined> {
  const loaded = await callProvider({ call: "tryLoad", keys, location }, () => provider.tryLoad(keys.foundryExecutionId, keys.workflowId, signal));
  return loaded === undefined || loaded === null ? undefined : validateSnapshot(loaded, keys);
}
