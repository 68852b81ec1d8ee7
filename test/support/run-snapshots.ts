// The keys a test's run is stored under, and a stored snapshot for them.

import { randomUUID } from "node:crypto";
import { type WorkflowExecutionSnapshot } from "../../src/persistence/index.js";
import { definitionFingerprint } from "../../src/persistence/snapshot.js";

export interface Keys {
  readonly instanceId: string;
  readonly workflowKey: string;
}

/** Fresh keys per test, spread into the usePersistence options. */
export function uniqueKeys(label = "test"): Keys {
  return { instanceId: `${label}-${randomUUID()}`, workflowKey: `${label}-workflow-v1` };
}

/** A valid snapshot for `keys` matching a workflow of these operation names (and version). */
export function snapshotFor(
  keys: Keys,
  operationNames: readonly string[],
  overrides: Partial<WorkflowExecutionSnapshot> = {},
): WorkflowExecutionSnapshot {
  const now = new Date().toISOString();
  return {
    formatVersion: 1,
    foundryExecutionId: keys.instanceId,
    workflowId: keys.workflowKey,
    workflowName: "Counted",
    definitionFingerprint: definitionFingerprint(overrides.workflowVersion, operationNames),
    operationCount: operationNames.length,
    nextOperationIndex: 0,
    properties: {},
    status: "running",
    revision: 1,
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}
