import { isWorkflowForgeError, type ErrorLocation } from "../errors.js";
import { PersistenceError, SnapshotConflictError, type ProviderCall, type SnapshotKeys } from "./errors.js";

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
