import type { Foundry } from "../foundry.js";
import type { WorkflowInfo } from "../types.js";
import type { SnapshotKeys } from "./errors.js";

/**
 * The keys `usePersistence` stores a run under (SPEC §5.1): `instanceId` and `workflowKey` when
 * given, else the foundry's execution id and the workflow's id (a bare foundry's name). Use it to
 * find a run's snapshot with `tryLoad`, `coordinator.resume` or the CLI.
 */
export function snapshotKeysOf(
  foundry: Pick<Foundry<any>, "executionId" | "name">,
  workflow?: Pick<WorkflowInfo, "id">,
  options: { readonly instanceId?: string | undefined; readonly workflowKey?: string | undefined } = {},
): SnapshotKeys {
  return { foundryExecutionId: options.instanceId ?? foundry.executionId, workflowId: options.workflowKey ?? workflow?.id ?? foundry.name };
}

/**
 * One string per key pair, for in-memory sets and maps: JSON of the pair, so no two pairs share
 * one whatever characters the keys hold. Not a storage format: providers define their own.
 */
export function pairKey(keys: SnapshotKeys): string {
  return JSON.stringify([keys.foundryExecutionId, keys.workflowId]);
}

/** The keys a call about no single instance (`list`) names in its errors: `"*"` for each. */
export const anyInstance: SnapshotKeys = Object.freeze({ foundryExecutionId: "*", workflowId: "*" });

/** The keys a `list(filter)` names in its errors: the filter's workflow key when it has one. */
export function listKeys(filter?: { readonly workflowId?: string | undefined }): SnapshotKeys {
  return filter?.workflowId === undefined ? anyInstance : { foundryExecutionId: "*", workflowId: filter.workflowId };
}
