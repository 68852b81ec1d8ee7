import { isWorkflowForgeError, messageOf, type ErrorLocation } from "../errors.js";
import { PersistenceError, SnapshotCorruptedError, type ProviderCall, type SnapshotKeys } from "./errors.js";
import type { WorkflowPersistenceProvider } from "./provider.js";
import { validateSnapshot, type WorkflowExecutionSnapshot } from "./snapshot.js";

export interface ProviderCallContext {
  readonly call: ProviderCall;
  readonly keys: SnapshotKeys;
  readonly location?: ErrorLocation | undefined;
}

/**
 * Calls the provider so that every failure, whatever was thrown and however (a rejection, a
 * synchronous throw, a non-Error value), reaches the caller as a typed error. A library error (a
 * provider's `SnapshotConflictError`, `SnapshotCorruptedError`, a codec's serialisation error)
 * passes through unchanged, so one problem is one error class with one message whichever provider
 * reports it; anything else is wrapped once in {@link PersistenceError} with the original as `cause`.
 */
export async function callProvider<T>(context: ProviderCallContext, invoke: () => T | Promise<T>): Promise<T> {
  try {
    return await invoke();
  } catch (cause) {
    throw providerError(context, cause);
  }
}

/**
 * What a provider that stores synchronously but returns promises (SQLite) resolves a save with once
 * it stored: made fulfilled, so the store carries on as after a synchronous return, without the
 * turns of the microtask queue that awaiting it would take.
 */
export const storedAlready: Promise<void> = Promise.resolve();

/** What {@link callProvider} rejects with when the provider failed with `cause`. */
export function providerError(context: ProviderCallContext, cause: unknown): Error {
  if (isWorkflowForgeError(cause)) return cause;
  const { call, keys, location } = context;
  return new PersistenceError({ keys, call, cause, location });
}

/**
 * `provider.tryLoad` through {@link callProvider}, validated: the snapshot stored under `keys`, or
 * `undefined` when none is (a provider may say so with `null`). A record of the wrong shape, or one
 * that cannot even be read (a getter that throws), raises `SnapshotCorruptedError`.
 */
export async function loadSnapshot(
  provider: WorkflowPersistenceProvider,
  keys: SnapshotKeys,
  signal: AbortSignal | undefined,
  location?: ErrorLocation,
): Promise<WorkflowExecutionSnapshot | undefined> {
  const loaded = await callProvider({ call: "tryLoad", keys, location }, () => provider.tryLoad(keys.foundryExecutionId, keys.workflowId, signal));
  if (loaded === undefined || loaded === null) return undefined;
  return readSnapshot(loaded, keys, "tryLoad");
}

/**
 * `value`, which `call` returned, checked to be a snapshot: `SnapshotCorruptedError` under `keys`
 * for a record of the wrong shape, and for one that cannot even be read (a getter that throws).
 */
export function readSnapshot(value: unknown, keys: SnapshotKeys, call: "tryLoad" | "list"): WorkflowExecutionSnapshot {
  try {
    return validateSnapshot(value, keys, call);
  } catch (error) {
    if (isWorkflowForgeError(error)) throw error;
    throw new SnapshotCorruptedError(keys, `reading what ${call} returned threw: ${messageOf(error)}`, error);
  }
}
