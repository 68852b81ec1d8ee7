import type { ErrorLocation } from "../../errors.js";
import { PersistenceError, type ProviderCall, type SnapshotKeys } from "../errors.js";

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

/**
 * `work`, or a rejection once `leaseTtlMs` passed without an answer: for the saves that give a claim
 * (or an attempt) back, which no lease keeper guards, so that a store that hangs instead of failing
 * cannot hold a pass, or close(), for longer than the lease would have held the record.
 */
export async function withinLease<T>(work: Promise<T>, leaseTtlMs: number): Promise<T> {
  if (!(await settlesWithin(work, leaseTtlMs))) throw new Error(unanswered(leaseTtlMs));
  return work;
}

/** What a store call that has not answered within the lease (`ms`) is reported with. */
export function unanswered(ms: number): string {
  return `the store did not answer within the lease (${ms} ms)`;
}

/**
 * `work`, or a PersistenceError naming `call` once `ms` passed without an answer (a late answer or
 * rejection is ignored: settlesWithin handled it): for the store calls no lease keeper guards, a
 * pass's claim and a run's mailbox reads, so that a store that hangs holds nothing for longer than a lease.
 */
export async function answeredWithin<T>(work: Promise<T>, ms: number, call: ProviderCall, keys: SnapshotKeys, location?: ErrorLocation): Promise<T> {
  if (await settlesWithin(work, ms)) return work;
  throw new PersistenceError({ call, keys, location, detail: unanswered(ms) });
}
