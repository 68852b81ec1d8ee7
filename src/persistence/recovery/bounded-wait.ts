import type { ErrorLocation } from "../../errors.js";
import { PersistenceError, type ProviderCall, type SnapshotKeys } from "../errors.js";
import { callProvider } from "../provider-call.js";
import type { WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";

// Waits that must end: a store that hangs instead of failing, or work that ignores its signal,
// cannot hold the coordinator for longer than it allows.

/** Resolves true once `promise` settles, false when `ms` passed first. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a store call that has not answered within the lease (`ms`) is reported with. */
export function unanswered(ms: number): string {
  return `the store did not answer within the lease (${ms} ms)`;
}

/**
 * `work`, or a PersistenceError naming `call` and `keys` once `ms` passed without an answer (a late
 * answer or rejection is ignored: settlesWithin handled it): for the store calls no lease keeper
 * guards (a pass's claim, a run's mailbox reads, a retry's load, the saves that give a claim or an
 * attempt back, a dead letter), so that a store that hangs holds nothing for longer than a lease,
 * and what it failed is reported as any other store failure is.
 */
export async function answeredWithin<T>(work: Promise<T>, ms: number, call: ProviderCall, keys: SnapshotKeys, location?: ErrorLocation): Promise<T> {
  if (await settlesWithin(work, ms)) return work;
  throw new PersistenceError({ call, keys, location, detail: unanswered(ms) });
}

/** `provider.save(snapshot)` as a store call of its keys (every failure typed), {@link answeredWithin} `ms`. */
export function savedWithin(provider: WorkflowPersistenceProvider, snapshot: WorkflowExecutionSnapshot, ms: number, signal?: AbortSignal): Promise<void> {
  const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
  return answeredWithin(callProvider({ call: "save", keys }, () => provider.save(snapshot, signal)), ms, "save", keys);
}
