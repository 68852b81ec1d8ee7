import { describe, rejectUnknownKeys, requireDelayMs, requireName, requireOptionalBoolean, requireLeaseTtlMs, requireOptionsObject } from "../internal/validate.js";
import type { MaybePromise, WorkflowInfo } from "../types.js";
import type { WorkflowExecutionSnapshot } from "./snapshot.js";
import { nodeBuiltin } from "../internal/node-builtin.js";

/**
 * Migrates a snapshot saved by another definition of the workflow. Return the adjusted snapshot,
 * or `undefined` to start fresh. What it must change: `nextOperationIndex` (0 to the current
 * operation count) so that operations `[0, next)` of the current definition are the ones already
 * done, `lastOutput` for operation `next`'s input, `outputs` only for completed operations that
 * have a `restore`, and `properties` as the current definition expects them; the fingerprint and
 * operation count are set for you. The stored snapshot handed back untouched is refused (its
 * progress counts the old operations): return a copy, `{ ...snapshot }`, when no completed
 * operation moved. A result that does not fit is a `WorkflowDefinitionMismatchError`.
 */
export type SnapshotMigration = (
  snapshot: WorkflowExecutionSnapshot,
  workflow: WorkflowInfo,
) => MaybePromise<WorkflowExecutionSnapshot | undefined>;

export interface PersistenceOptions {
  /** `false` adds no middleware at all. @default true */
  readonly enabled?: boolean | undefined;
  /** Key 1, used verbatim. Give it (or a fixed `executionId`) to resume in another process. @default foundry.executionId */
  readonly instanceId?: string | undefined;
  /** Key 2, used verbatim. @default the workflow's id (a bare foundry's name) */
  readonly workflowKey?: string | undefined;
  /** Save status `failed` with the error when an operation throws. @default true */
  readonly persistOnFailure?: boolean | undefined;
  /** After the last operation: `"delete"` the snapshot, or `"keep"` it with status `completed`. @default "delete" */
  readonly onComplete?: "delete" | "keep" | undefined;
  /**
   * What a run does when its keys hold a `completed` record (kept by `onComplete: "keep"`): `true`
   * runs the workflow again from its first operation; `false` runs nothing, reports every operation
   * skipped and resolves with the stored result, so starting a completed instance twice is
   * idempotent. `false` needs `onComplete: "keep"`. @default true
   */
  readonly rerunCompleted?: boolean | undefined;
  /** A snapshot from another definition: `"error"`, `"restart"` fresh, or migrate it. @default "error" */
  readonly onDefinitionMismatch?: "error" | "restart" | SnapshotMigration | undefined;
  /** Written into every snapshot as the claim's owner. @default an id unique to this process */
  readonly owner?: string | undefined;
  /**
   * Claim the instance before its first operation (compare-and-set) and renew the claim with every
   * checkpoint. Another owner cannot start the instance while the lease is live. `ttlMs` is a
   * positive number of milliseconds up to 2_147_483_647 (about 24.8 days, the longest timer
   * Node.js keeps). @default undefined (no lease)
   */
  readonly lease?: { readonly ttlMs: number } | undefined;
  /**
   * A sleep with at most this much left waits in the process; a longer one, and an event wait
   * whose event has not arrived, suspends the run (`WorkflowSuspendedError`) for a recovery
   * coordinator to continue when it is due. @default 1_000
   */
  readonly waitInProcessMs?: number | undefined;
}

export interface ResolvedPersistenceOptions {
  readonly enabled: boolean;
  readonly instanceId: string | undefined;
  readonly workflowKey: string | undefined;
  readonly persistOnFailure: boolean;
  readonly onComplete: "delete" | "keep";
  readonly rerunCompleted: boolean;
  readonly onDefinitionMismatch: "error" | "restart" | SnapshotMigration;
  readonly owner: string;
  readonly leaseTtlMs: number | undefined;
  readonly waitInProcessMs: number;
  /** Each run counts one attempt in the snapshot (the recovery coordinator's claims). */
  readonly countsAttempts: boolean;
}

/**
 * One id per process (per loaded copy of this module), the default claim owner:
 * `process-<hostname>-<pid>-<uuid>` where the runtime tells the host name and pid (Node.js 20.16+),
 * so that `workflowforge list` on the same host can tell a snapshot whose owner has exited;
 * `process-<uuid>` elsewhere.
 */
export const processOwner: string = defaultOwner(globalThis.crypto.randomUUID());

function defaultOwner(uuid: string): string {
  try {
    const name = nodeBuiltin<{ hostname: () => unknown }>("node:os")?.hostname?.();
    const pid = (globalThis as { process?: { pid?: unknown } }).process?.pid;
    if (typeof name === "string" && name !== "" && typeof pid === "number" && Number.isSafeInteger(pid) && pid > 0) return `process-${name}-${pid}-${uuid}`;
  } catch {
    // A runtime that lends no node:os, or a host name it cannot read: the uuid alone still names the process.
  }
  return `process-${uuid}`;
}

const known = ["enabled", "instanceId", "workflowKey", "persistOnFailure", "onComplete", "rerunCompleted", "onDefinitionMismatch", "owner", "lease", "waitInProcessMs"];

/** Validates every option, throwing `TypeError` naming the first bad one. */
export function resolvePersistenceOptions(input: unknown, where = "usePersistence(foundry, provider, options)"): ResolvedPersistenceOptions {
  const options = requireOptionsObject(input, `${where}: options`) as PersistenceOptions;
  rejectUnknownKeys(options, known, where);
  requireOptionalBoolean(options.enabled, `${where}: options.enabled`);
  requireOptionalBoolean(options.persistOnFailure, `${where}: options.persistOnFailure`);
  requireOptionalBoolean(options.rerunCompleted, `${where}: options.rerunCompleted`);
  for (const key of ["instanceId", "workflowKey", "owner"] as const) {
    if (options[key] !== undefined) requireName(options[key], `${where}: options.${key}`);
  }
  const { onComplete = "delete", onDefinitionMismatch = "error", lease } = options;
  if (onComplete !== "delete" && onComplete !== "keep") {
    throw new TypeError(`${where}: options.onComplete must be "delete" or "keep", got ${describe(onComplete)}`);
  }
  if (options.rerunCompleted === false && onComplete !== "keep") {
    throw new TypeError(`${where}: options.rerunCompleted: false needs onComplete: "keep", or no completed record is ever stored to return`);
  }
  if (onDefinitionMismatch !== "error" && onDefinitionMismatch !== "restart" && typeof onDefinitionMismatch !== "function") {
    throw new TypeError(`${where}: options.onDefinitionMismatch must be "error", "restart" or a function, got ${describe(onDefinitionMismatch)}`);
  }
  if (lease !== undefined) {
    rejectUnknownKeys(requireOptionsObject(lease, `${where}: options.lease`), ["ttlMs"], `${where}: options.lease`);
    requireLeaseTtlMs(lease.ttlMs, `${where}: options.lease.ttlMs`);
  }
  if (options.waitInProcessMs !== undefined) requireDelayMs(options.waitInProcessMs, `${where}: options.waitInProcessMs`);
  return {
    enabled: options.enabled ?? true,
    instanceId: options.instanceId,
    workflowKey: options.workflowKey,
    persistOnFailure: options.persistOnFailure ?? true,
    onComplete,
    rerunCompleted: options.rerunCompleted ?? true,
    onDefinitionMismatch,
    owner: options.owner ?? processOwner,
    leaseTtlMs: lease?.ttlMs,
    waitInProcessMs: options.waitInProcessMs ?? 1_000,
    countsAttempts: false,
  };
}
