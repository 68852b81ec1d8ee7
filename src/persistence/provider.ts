import type { MaybePromise } from "../types.js";
import type { ListOptions } from "./list-options.js";
import type { WorkflowExecutionSnapshot, SnapshotStatus } from "./snapshot.js";

/** Narrows `list()`. Every field is optional; all given fields must match. */
export interface SnapshotFilter {
  readonly status?: SnapshotStatus | readonly SnapshotStatus[];
  readonly workflowId?: string;
  readonly workflowName?: string;
  /** Only snapshots last updated before this instant. */
  readonly updatedBefore?: Date | string;
}

/** What a provider declares it supports. Declared, never probed. */
export interface ProviderCapabilities {
  /** `save` accepts only `snapshot.revision === stored revision + 1` and otherwise rejects with `SnapshotConflictError`. */
  readonly compareAndSet?: boolean;
  /** `list()` is implemented. */
  readonly list?: boolean;
}

/**
 * Bring your own storage: three methods. Each may be synchronous or return a promise; each receives
 * the run's abort signal.
 *
 * - `tryLoad` of an unknown key resolves `undefined` (or `null`).
 * - `delete` of an unknown key resolves.
 * - `save` is an atomic replace: a reader sees the old or the new snapshot, never a mix.
 * - Keys are opaque strings of any characters; `("a|b", "c")` and `("a", "b|c")` are different.
 */
export interface WorkflowPersistenceProvider {
  save(snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal): MaybePromise<void>;
  tryLoad(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): MaybePromise<WorkflowExecutionSnapshot | undefined | null>;
  delete(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): MaybePromise<void>;
  readonly capabilities?: ProviderCapabilities;
  /**
   * Snapshots matching `filter`. `options.onUnreadable` asks to go on past records that cannot be
   * read (the recovery coordinator and the CLI pass it); a provider may ignore it and reject instead.
   */
  list?(filter?: SnapshotFilter, signal?: AbortSignal, options?: ListOptions): AsyncIterable<WorkflowExecutionSnapshot> | Promise<WorkflowExecutionSnapshot[]>;
}

/** True when `snapshot` satisfies every field of `filter`. For providers that filter in memory. */
export function matchesFilter(snapshot: WorkflowExecutionSnapshot, filter: SnapshotFilter = {}): boolean {
  const { status, workflowId, workflowName, updatedBefore } = filter;
  if (status !== undefined && !(typeof status === "string" ? status === snapshot.status : status.includes(snapshot.status))) return false;
  if (workflowId !== undefined && workflowId !== snapshot.workflowId) return false;
  if (workflowName !== undefined && workflowName !== snapshot.workflowName) return false;
  if (updatedBefore !== undefined && !(Date.parse(snapshot.updatedAt) < new Date(updatedBefore).getTime())) return false;
  return true;
}
