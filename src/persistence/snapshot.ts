import { countedAnnotations, maxAnnotationLength, maxAnnotations } from "../annotations.js";
import type { WorkflowInfo } from "../types.js";
import { hex32 } from "./codec/checksum.js";
import { maxCauseMessage, maxStoredCauses, maxStoredStack } from "./stored-error.js";
import { isTimelineText } from "./timeline.js";
import { notPlainObject } from "../internal/validate.js";
import { SnapshotCorruptedError, type SnapshotKeys, type StoredError } from "./errors.js";

/**
 * `waiting`: suspended at a durable wait (operation `nextOperationIndex`), due at `wakeAt` or when
 * the event `waitingFor` arrives. `cancelled`: stopped for good by `coordinator.cancel`.
 */
export type SnapshotStatus = "running" | "failed" | "compensating" | "completed" | "waiting" | "cancelled";

/**
 * What a provider stores for one workflow instance. Its size grows with the user's properties and
 * with the outputs of completed operations that have a `restore`, never with the number of steps.
 */
export interface WorkflowExecutionSnapshot {
  readonly formatVersion: 1;
  /** Key 1: `options.instanceId`, else the foundry's `executionId`. */
  readonly foundryExecutionId: string;
  /** Key 2: `options.workflowKey`, else the workflow's id. */
  readonly workflowId: string;
  readonly workflowName: string;
  readonly workflowVersion?: string;
  /** Hash of the ordered operation names and the workflow version. */
  readonly definitionFingerprint: string;
  readonly operationCount: number;
  /** Operations `[0, nextOperationIndex)` are complete (or, while compensating, still to restore). */
  readonly nextOperationIndex: number;
  /** Output of operation `nextOperationIndex - 1`, so output chaining survives a resume. */
  readonly lastOutput?: unknown;
  /** Restore payloads of completed operations that have a `restore`, by operation index. */
  readonly outputs?: Readonly<Record<number, unknown>>;
  /** The user's properties only; engine bookkeeping never appears here. */
  readonly properties: Readonly<Record<string, unknown>>;
  readonly status: SnapshotStatus;
  readonly error?: StoredError;
  /** Stored revision + 1 on every save; 1 when nothing was stored. */
  readonly revision: number;
  /** The process that claims the run (recovery). */
  readonly owner?: string;
  readonly leaseExpiresAt?: string;
  /**
   * How many times a recovery coordinator has claimed this instance. A `failed` snapshot whose
   * attempts reached the coordinator's `retry.attempts` is a dead letter: it is not resumed again.
   */
  readonly attempts?: number;
  /**
   * Per operation of the definition, `startedAt,finishedAt,executions`, `;` between operations:
   * when it first started and last finished, in milliseconds after `createdAt` (empty: not yet),
   * and how many times it was executed (a checkpoint counts the next operation as started, so one
   * re-executed after a crash counts 2). Read it with `readTimeline`. Absent for definitions of
   * more than 1,000 operations and in snapshots written before it existed.
   */
  readonly timeline?: string;
  /**
   * The wait at `nextOperationIndex`: when it is due (a sleep's end, an event wait's timeout; ISO
   * 8601), fixed when the wait was first reached so that a resumed run waits only for what is left.
   */
  readonly wakeAt?: string;
  /** The event the wait at `nextOperationIndex` waits for. */
  readonly waitingFor?: string;
  /** The `eventId`s of the events this instance's waits consumed, in order: each is consumed once. */
  readonly consumedEvents?: readonly string[];
  /** When `coordinator.cancel` cancelled the instance (ISO 8601); with status `compensating`, the compensation ends it `cancelled`. */
  readonly cancelledAt?: string;
  /** The run's annotations (`run.annotations`): at most 32 string keys and values. */
  readonly annotations?: Readonly<Record<string, string>>;
  /** ISO-8601. */
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Every status a stored snapshot may have. */
export const snapshotStatuses: readonly SnapshotStatus[] = ["running", "failed", "compensating", "completed", "waiting", "cancelled"];
const statuses: ReadonlySet<unknown> = new Set(snapshotStatuses);

/** True when `value` is one of {@link snapshotStatuses}. */
export function isSnapshotStatus(value: unknown): value is SnapshotStatus {
  return statuses.has(value);
}

const isInstant = (value: unknown): boolean => typeof value === "string" && Number.isFinite(Date.parse(value));

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// Undefined for a plain object, else what it is: restored key by key, a Map or a Date restores nothing it holds.
function notPlainBag(value: object): string | undefined {
  try {
    return notPlainObject(value);
  } catch {
    return "a Proxy whose trap throws";
  }
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

function isAnnotations(value: unknown): boolean {
  if (!isRecord(value)) return false;
  const entries = Object.entries(value);
  const fits = (text: unknown): boolean => typeof text === "string" && text.length <= maxAnnotationLength;
  return countedAnnotations(entries.map(([key]) => key)) <= maxAnnotations && entries.every(([key, text]) => fits(key) && fits(text));
}

// What is wrong with a stored error, or undefined. `stack` and `cause` are optional: records written
// before they were stored stay valid. Their bounds are the writer's, checked so that a record
// cannot smuggle in more than the writer would have stored.
function storedErrorProblem(value: unknown): string | undefined {
  if (!isRecord(value) || typeof value.name !== "string" || typeof value.message !== "string" || !isCount(value.operationIndex) || typeof value.operationName !== "string") {
    return "error is not { name, message, operationIndex, operationName }";
  }
  if (value.stack !== undefined && (typeof value.stack !== "string" || value.stack.length > maxStoredStack)) return `error.stack is not a string of at most ${maxStoredStack} characters`;
  const cause = value.cause;
  if (cause === undefined) return undefined;
  const isLink = (link: unknown): boolean => isRecord(link) && typeof link.name === "string" && typeof link.message === "string" && link.message.length <= maxCauseMessage;
  if (!Array.isArray(cause) || cause.length > maxStoredCauses || !cause.every(isLink)) {
    return `error.cause is not a list of at most ${maxStoredCauses} { name, message } (messages of at most ${maxCauseMessage} characters)`;
  }
  return undefined;
}

const timelineProblem = 'timeline is not "startedAt,finishedAt,executions" per operation, separated by ";"';

const isStringList = (value: unknown): boolean => Array.isArray(value) && value.every((item) => typeof item === "string");

// What is wrong with a snapshot that has every required field, or undefined: the first problem in
// the order of the format. One function of plain checks rather than a list of closures: a load
// runs every check, and here each reads its field through one property access that V8 can
// specialise, where 23 calls through one call site cost as much as the checks themselves.
function problemOf(s: Record<string, unknown>): string | undefined {
  if (s.formatVersion !== 1) return `unknown formatVersion ${JSON.stringify(s.formatVersion)}`;
  if (typeof s.workflowName !== "string") return "workflowName is not a string";
  if (s.workflowVersion !== undefined && typeof s.workflowVersion !== "string") return "workflowVersion is not a string";
  if (typeof s.definitionFingerprint !== "string") return "definitionFingerprint is not a string";
  if (!isCount(s.operationCount)) return "operationCount is not a non-negative integer";
  if (!isCount(s.nextOperationIndex)) return "nextOperationIndex is not a non-negative integer";
  if (s.nextOperationIndex > s.operationCount) return "nextOperationIndex is past operationCount";
  if (!isRecord(s.properties)) return "properties is not an object";
  const bag = notPlainBag(s.properties);
  if (bag !== undefined) return `properties is ${bag}, not a plain object`;
  if (s.outputs !== undefined && !isRecord(s.outputs)) return "outputs is not an object";
  if (!isSnapshotStatus(s.status)) return `unknown status ${JSON.stringify(s.status)}`;
  if (!isCount(s.revision)) return "revision is not a non-negative integer";
  const error = s.error === undefined ? undefined : storedErrorProblem(s.error);
  if (error !== undefined) return error;
  if (s.owner !== undefined && typeof s.owner !== "string") return "owner is not a string";
  if (s.leaseExpiresAt !== undefined && typeof s.leaseExpiresAt !== "string") return "leaseExpiresAt is not a string";
  if (s.attempts !== undefined && !isCount(s.attempts)) return "attempts is not a non-negative integer";
  // The operations after the next one have not started in a run in progress: see isTimelineText.
  if (s.timeline !== undefined && !isTimelineText(s.timeline, s.operationCount - s.nextOperationIndex - 1)) return timelineProblem;
  if (s.wakeAt !== undefined && !isInstant(s.wakeAt)) return "wakeAt is not an ISO-8601 instant";
  if (s.waitingFor !== undefined && typeof s.waitingFor !== "string") return "waitingFor is not a string";
  if (s.status === "waiting" && s.wakeAt === undefined && s.waitingFor === undefined) return "a waiting snapshot has neither wakeAt nor waitingFor";
  if (s.consumedEvents !== undefined && !isStringList(s.consumedEvents)) return "consumedEvents is not a list of strings";
  if (s.cancelledAt !== undefined && !isInstant(s.cancelledAt)) return "cancelledAt is not an ISO-8601 instant";
  if (s.annotations !== undefined && !isAnnotations(s.annotations)) return `annotations is not an object of at most ${maxAnnotations} strings`;
  if (typeof s.createdAt !== "string" || typeof s.updatedAt !== "string") return "createdAt/updatedAt are not strings";
  return undefined;
}

// Every field a snapshot always has, in the order of the interface.
const required = [
  "formatVersion",
  "foundryExecutionId",
  "workflowId",
  "workflowName",
  "definitionFingerprint",
  "operationCount",
  "nextOperationIndex",
  "properties",
  "status",
  "revision",
  "createdAt",
  "updatedAt",
] as const;

// `required`, read by name: reads of literal names are specialised by V8 where reads of names
// taken from a list are looked up one by one, which took about 90 of the 120 ns the check of a
// snapshot's fields costs without its timeline. The list still names what is missing.
function hasRequiredFields(v: Record<string, unknown>): boolean {
  return (
    v.formatVersion !== undefined &&
    v.foundryExecutionId !== undefined &&
    v.workflowId !== undefined &&
    v.workflowName !== undefined &&
    v.definitionFingerprint !== undefined &&
    v.operationCount !== undefined &&
    v.nextOperationIndex !== undefined &&
    v.properties !== undefined &&
    v.status !== undefined &&
    v.revision !== undefined &&
    v.createdAt !== undefined &&
    v.updatedAt !== undefined
  );
}

// The usual cause of a value that is no snapshot at all: a provider returning its row or its text.
const shapeHint = (call: string): string => `${call} (or a codec's decode) must return the decoded snapshot object that save received, not a row or the encoded text`;

const describeValue = (value: unknown): string => (value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`);

const describeKey = (key: unknown): string => (typeof key === "string" ? JSON.stringify(key) : describeValue(key));

/**
 * Why `value` is not a snapshot of this format for `keys`: the first problem found (for a value
 * that is not a snapshot at all, every required field it lacks), or undefined when it is one.
 */
export function snapshotProblem(value: unknown, keys: SnapshotKeys): string | undefined {
  if (!isRecord(value)) return `expected an object, got ${describeValue(value)}`;
  if (!hasRequiredFields(value)) return `it is not a snapshot: missing ${required.filter((name) => value[name] === undefined).join(", ")}`;
  if (value.foundryExecutionId !== keys.foundryExecutionId || value.workflowId !== keys.workflowId) {
    return `it carries other keys (instance ${describeKey(value.foundryExecutionId)} / workflow ${describeKey(value.workflowId)})`;
  }
  return problemOf(value);
}

/**
 * Checks that `value` (what `tryLoad` returned for `keys`) is a snapshot of this format for these
 * keys. Throws {@link SnapshotCorruptedError} naming the keys and {@link snapshotProblem}'s reason,
 * with the usual cause when the value is no snapshot at all.
 */
export function validateSnapshot(value: unknown, keys: SnapshotKeys, call: "tryLoad" | "list" = "tryLoad"): WorkflowExecutionSnapshot {
  const problem = snapshotProblem(value, keys);
  if (problem === undefined) return value as WorkflowExecutionSnapshot;
  if (!isRecord(value)) throw new SnapshotCorruptedError(keys, `${problem}: ${shapeHint(call)}`);
  throw new SnapshotCorruptedError(keys, hasRequiredFields(value) ? problem : `${problem}; ${shapeHint(call)}`);
}

/** The keys `value` says it has, or `"*"` for each it does not say: what a record that is no snapshot is reported under. */
export function keysCarried(value: unknown): SnapshotKeys {
  const { foundryExecutionId, workflowId } = isRecord(value) ? value : {};
  return { foundryExecutionId: typeof foundryExecutionId === "string" ? foundryExecutionId : "*", workflowId: typeof workflowId === "string" ? workflowId : "*" };
}

/**
 * A short, stable hash of the ordered operation names and the version (FNV-1a, two 32-bit lanes).
 * Not cryptographic: it only has to notice that a definition changed.
 */
export function definitionFingerprint(version: string | undefined, operationNames: readonly string[]): string {
  const text = JSON.stringify([version ?? null, ...operationNames]);
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    a = Math.imul(a ^ code, 0x01000193);
    b = Math.imul(b ^ code, 0x5bd1e995) ^ (b >>> 15);
  }
  return `fnv1a:${hex32(a)}${hex32(b)}`;
}

/** The fingerprint of a workflow's definition: {@link definitionFingerprint} of its version and its operations' names. */
export function fingerprintOf(workflow: Pick<WorkflowInfo, "version" | "operations">): string {
  return definitionFingerprint(workflow.version, workflow.operations.map((operation) => operation.name));
}
