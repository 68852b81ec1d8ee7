/** The two keys that identify a workflow instance (persistence's `instanceId` and `workflowKey`). */
export interface InstanceIdentity {
  readonly instanceId: string;
  readonly workflowKey: string;
}

/**
 * The idempotency key of operation `operationIndex` of an instance: the value
 * `foundry.idempotencyKey(suffix)` returns inside that operation, on every re-execution. Use it to
 * compute the same key outside a run, for example in the service that receives it.
 */
export function idempotencyKeyOf(identity: InstanceIdentity, operationIndex: number, suffix?: string): string {
  if (!Number.isInteger(operationIndex) || operationIndex < 0) {
    throw new TypeError(`idempotencyKeyOf(identity, operationIndex): operationIndex must be a non-negative integer, got ${String(operationIndex)}`);
  }
  const key = `${encodeURIComponent(identity.instanceId)}/${encodeURIComponent(identity.workflowKey)}/${operationIndex}`;
  return suffix === undefined ? key : `${key}/${encodeURIComponent(suffix)}`;
}
