import { randomUUID } from "node:crypto";
import type { SnapshotKeys } from "../errors.js";
import type { DeliveredEvent } from "../mailbox.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";

/** Fresh keys for one test, so tests never see each other's records even on a shared store. */
export function randomKeys(label = "conformance"): { foundryExecutionId: string; workflowId: string } {
  return { foundryExecutionId: `${label}-${randomUUID()}`, workflowId: `wf-${randomUUID()}` };
}

/** A snapshot with every field of the format set, JSON-safe values only. */
export function fullSnapshot(overrides: Partial<WorkflowExecutionSnapshot> = {}): WorkflowExecutionSnapshot {
  const keys = randomKeys();
  return {
    formatVersion: 1,
    ...keys,
    workflowName: "ConformanceOrder",
    workflowVersion: "2.1.0",
    definitionFingerprint: "fnv1a:0123456789abcdef",
    operationCount: 5,
    nextOperationIndex: 3,
    lastOutput: { charged: 42.5, lines: ["a", "b"] },
    outputs: { 0: { reservation: "r-1" }, 2: [1, 2, 3] },
    properties: { orderId: "A-1", total: 99.95, paid: true, note: null, items: [{ sku: "x", qty: 2 }], nested: { deep: { value: "é✓" } } },
    status: "failed",
    error: { name: "Error", message: "card declined", operationIndex: 3, operationName: "charge" },
    revision: 1,
    owner: "worker-1",
    leaseExpiresAt: "2026-01-01T00:00:30.000Z",
    attempts: 2,
    timeline: "0,100,1;120,300,1;340,800,2;900,950,1;,,0",
    annotations: { "otel.traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:01.000Z",
    ...overrides,
  };
}

/**
 * A value of every type the snapshot codec keeps beyond JSON: what a provider storing
 * `JSON.stringify(snapshot)` would lose or change.
 */
export function richValues(): Record<string, unknown> {
  return {
    when: new Date("2026-01-02T03:04:05.678Z"),
    lines: new Map<unknown, unknown>([["sku-1", 2n], [3, { packed: new Set(["box"]) }]]),
    tags: new Set(["vip", "gift"]),
    big: 12345678901234567890n,
    missing: undefined,
    notANumber: Number.NaN,
    negativeZero: -0,
    infinities: [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY],
    bytes: new Uint8Array([0, 1, 254, 255]),
    floats: new Float64Array([0.5, -1.25]),
    pattern: /^order-\d+$/giu,
  };
}

/**
 * Changes `snapshot` (one of {@link fullSnapshot}'s) deep inside: nested properties, an output and
 * the last output. The store must not change with it.
 */
export function changeDeeply(snapshot: WorkflowExecutionSnapshot, value: string): void {
  const properties = snapshot.properties as { nested: { deep: { value: string } }; items: unknown[] };
  properties.nested.deep.value = value;
  properties.items.push(value);
  (snapshot.outputs?.[2] as unknown[]).push(value);
  (snapshot.lastOutput as { lines: string[] }).lines.push(value);
}

/** The same snapshot one save later: what a checkpoint writes. */
export function nextRevision(snapshot: WorkflowExecutionSnapshot, changes: Partial<WorkflowExecutionSnapshot> = {}): WorkflowExecutionSnapshot {
  return { ...snapshot, revision: snapshot.revision + 1, updatedAt: new Date().toISOString(), ...changes };
}

/** An event for `deliver()` to the instance `keys`, with a fresh `eventId` unless given one. */
export function deliveredEvent(keys: SnapshotKeys, overrides: Partial<DeliveredEvent> = {}): DeliveredEvent {
  return { ...keys, name: "approved", eventId: `event-${randomUUID()}`, payload: { by: "ann" }, sentAt: new Date().toISOString(), ...overrides };
}

/**
 * A record suspended at a wait, as the session stores it: status `waiting`, no owner and no lease
 * (the claim is given back), waiting for `waitingFor` and/or until `wakeAt`.
 */
export function waitingSnapshot(overrides: Partial<WorkflowExecutionSnapshot>): WorkflowExecutionSnapshot {
  const snapshot: Record<string, unknown> = { ...fullSnapshot({ status: "waiting", attempts: 0 }) };
  for (const field of ["owner", "leaseExpiresAt", "error"]) delete snapshot[field];
  return { ...(snapshot as unknown as WorkflowExecutionSnapshot), ...overrides };
}

/**
 * Runs `run` on every item, at most `limit` at a time, each starting as soon as one before it
 * settles: many writes go at a store's own pace without a burst of thousands at once.
 */
export async function eachAtMost<T>(items: readonly T[], limit: number, run: (item: T) => unknown): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await run(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
