import type { WorkflowExecutionSnapshot } from "../../src/persistence/index.js";

// The small snapshot the codec tests encode: one instance's keys, a three-operation definition,
// `properties` and any field in `extra` given by the test.

export const codecKeys = { foundryExecutionId: "order-42", workflowId: "ProcessOrder-v1" };

export function codecSnapshot(properties: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): WorkflowExecutionSnapshot {
  return {
    formatVersion: 1,
    ...codecKeys,
    workflowName: "ProcessOrder",
    definitionFingerprint: "fnv1a:0000000000000000",
    operationCount: 3,
    nextOperationIndex: 1,
    properties,
    status: "running",
    revision: 1,
    createdAt: "2024-01-01T00:00:00.000Z",
    updatedAt: "2024-01-01T00:00:00.000Z",
    ...extra,
  };
}
