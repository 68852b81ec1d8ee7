import { spawnSync } from "node:child_process";
import { hostname } from "node:os";
import type { SnapshotStatus, WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";

const minute = 60_000;
const ago = (ms: number): string => new Date(Date.now() - ms).toISOString();
const ahead = (ms: number): string => new Date(Date.now() + ms).toISOString();

/** What an injected tag would do if the page ever parsed a stored string as HTML. */
export const scriptPayload = `<script>window.__xss = "script"</script>`;
export const imgPayload = `<img src=x onerror="window.__xss='img'">`;

function seed(instance: string, status: SnapshotStatus, updatedMsAgo: number, rest: Partial<WorkflowExecutionSnapshot> = {}): WorkflowExecutionSnapshot {
  return {
    formatVersion: 1,
    foundryExecutionId: instance,
    workflowId: "orders-v1",
    workflowName: "ProcessOrder",
    workflowVersion: "1.0",
    definitionFingerprint: "fnv1a:0123456789abcdef",
    operationCount: 4,
    nextOperationIndex: 2,
    properties: { orderId: instance },
    status,
    revision: 1,
    createdAt: ago(updatedMsAgo + 10 * minute),
    updatedAt: ago(updatedMsAgo),
    ...rest,
  };
}

// The pid of a process that has exited (and been reaped) by the time this returns.
function exitedPid(): number {
  const { pid } = spawnSync(process.execPath, ["-e", ""]);
  if (pid === undefined) throw new Error("could not start a process to take its pid");
  return pid;
}

// A fixed stack, so that the screenshots show the same one on every machine.
function withStack(error: Error, frames: string): Error {
  error.stack = `${error.name}: ${error.message}\n    ${frames}`;
  return error;
}

const declined = { name: "CardDeclinedError", message: "card declined by the issuer", operationIndex: 2, operationName: "charge" };
// What a failure record stores of the thrown error since it keeps the stack and the cause chain.
const declinedWithStack = {
  ...declined,
  stack: "CardDeclinedError: card declined by the issuer\n    at chargeCard (src/payments.ts:42:11)\n    at charge (src/orders.ts:88:5)",
  cause: [
    { name: "HttpError", message: "402 Payment Required" },
    { name: "Error", message: "insufficient funds" },
  ],
};

/**
 * One instance of every kind the inspector tells apart, newest first by updatedAt:
 * running under a live lease, failed (retryable), compensating, completed (kept), a dead letter,
 * a stale one (running, its lease expired), a record with a per-operation timeline, and one whose
 * strings are all markup.
 */
export function inspectorSnapshots(): WorkflowExecutionSnapshot[] {
  const properties = {
    customer: { id: "c-7", tags: new Set(["vip", "eu"]) },
    placedAt: new Date("2026-01-02T03:04:05.000Z"),
    lines: new Map([["sku-1", 2n]]),
    total: 12345678901234567890n,
    bytes: new Uint8Array([1, 2, 3]),
    missing: undefined,
    lastFailure: withStack(new Error("gateway timeout", { cause: withStack(new Error("socket hang up"), "at TLSSocket.onend (node:_http_client:512:23)") }), "at chargeCard (src/payments.ts:42:11)\n    at charge (src/orders.ts:88:5)"),
  };
  return [
    seed("running-1", "running", 1_000, { owner: "worker-a", leaseExpiresAt: ahead(10 * minute), nextOperationIndex: 1 }),
    // Its charge ran twice: once before a crash, once more after the resume, failing both times.
    seed("failed-1", "failed", 2 * minute, {
      owner: "worker-a",
      attempts: 1,
      error: declinedWithStack,
      properties,
      timeline: "0,600,1;800,1900,1;2000,9400,2;,,0",
    }),
    seed("compensating-1", "compensating", 3 * minute, { owner: "worker-b", leaseExpiresAt: ahead(10 * minute), nextOperationIndex: 1, error: { ...declined, operationIndex: 3, operationName: "ship" } }),
    seed("completed-1", "completed", 4 * minute, { nextOperationIndex: 4, lastOutput: { shipped: true } }),
    seed("dead-1", "failed", 5 * minute, { owner: "coordinator-1", attempts: 3, error: declined }),
    seed("dead-2", "failed", 6 * minute, { owner: "coordinator-1", attempts: 3, error: declined, workflowId: "orders-v2" }),
    seed("stale-1", "running", 7 * minute, { owner: "worker-gone", leaseExpiresAt: ago(5 * minute), nextOperationIndex: 3 }),
    // Operation 1 ran twice (its worker crashed once); operation 2 started and has not finished.
    seed("timed-1", "running", 8 * minute, {
      owner: "worker-c",
      leaseExpiresAt: ahead(10 * minute),
      nextOperationIndex: 2,
      createdAt: "2026-03-01T10:00:00.000Z",
      timeline: "0,1200,1;1500,3900,2;4000,,1;,,0",
      annotations: { tenant: "acme" },
    }),
    // Its lease is live, but its owner (the default owner, naming a process on this host) has exited.
    seed("exited-1", "running", 8.5 * minute, { owner: `process-${hostname()}-${exitedPid()}-00000000-0000-4000-8000-000000000000`, leaseExpiresAt: ahead(10 * minute) }),
    seed(`xss-${scriptPayload}`, "failed", 9 * minute, {
      workflowId: imgPayload,
      workflowName: `Evil${scriptPayload}`,
      owner: imgPayload,
      attempts: 3,
      error: {
        name: `X${imgPayload}`,
        message: `boom ${scriptPayload}${imgPayload}`,
        operationIndex: 1,
        operationName: imgPayload,
        stack: `X: boom\n    at ${scriptPayload} (${imgPayload}:1:1)`,
        cause: [{ name: scriptPayload, message: imgPayload }],
      },
      annotations: { [scriptPayload]: imgPayload },
      properties: { [imgPayload]: scriptPayload, html: `<b onmouseover="window.__xss='b'">bold</b>`, nested: new Map([[scriptPayload, imgPayload]]) },
    }),
  ];
}
