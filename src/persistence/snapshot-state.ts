import type { WorkflowInfo } from "../types.js";
import type { SnapshotKeys, StoredError } from "./errors.js";
import type { ResolvedPersistenceOptions } from "./options.js";
import type { SnapshotStatus, WorkflowExecutionSnapshot } from "./snapshot.js";

/** What a run knows of its stored snapshot between checkpoints. */
export interface SnapshotState {
  readonly keys: SnapshotKeys;
  readonly workflow: WorkflowInfo;
  readonly fingerprint: string;
  readonly options: Pick<ResolvedPersistenceOptions, "owner" | "leaseTtlMs">;
  /** The revision stored now (0: nothing). */
  revision: number;
  next: number;
  status: SnapshotStatus;
  outputs: Record<number, unknown>;
  lastOutput?: unknown;
  error?: StoredError | undefined;
  attempts?: number | undefined;
  createdAt?: string | undefined;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** The snapshot of the next revision, with `properties` as they are now (copied one level deep). */
export function snapshotOf(state: SnapshotState, status: SnapshotStatus, properties: object, error = state.error): WorkflowExecutionSnapshot {
  const now = Date.now();
  const updatedAt = isoTime(now);
  state.createdAt ??= updatedAt;
  const snapshot: Writable<WorkflowExecutionSnapshot> = {
    formatVersion: 1,
    ...state.keys,
    workflowName: state.workflow.name,
    definitionFingerprint: state.fingerprint,
    operationCount: state.workflow.operations.length,
    nextOperationIndex: state.next,
    properties: { ...(properties as Record<string, unknown>) },
    status,
    revision: state.revision + 1,
    owner: state.options.owner,
    createdAt: state.createdAt,
    updatedAt,
  };
  if (state.workflow.version !== undefined) snapshot.workflowVersion = state.workflow.version;
  if (state.lastOutput !== undefined) snapshot.lastOutput = state.lastOutput;
  if (hasKeys(state.outputs)) snapshot.outputs = { ...state.outputs };
  if (error !== undefined && status !== "running" && status !== "completed") snapshot.error = error;
  if (state.options.leaseTtlMs !== undefined) snapshot.leaseExpiresAt = isoTime(now + state.options.leaseTtlMs);
  if (state.attempts !== undefined) snapshot.attempts = state.attempts;
  return snapshot;
}

/** What `snapshotSaved` and `snapshotRestored` listeners receive. */
export function snapshotEvent(snapshot: WorkflowExecutionSnapshot) {
  const { foundryExecutionId, workflowId, nextOperationIndex, status, revision } = snapshot;
  return { foundryExecutionId, workflowId, nextOperationIndex, status, revision };
}

// Formatting a date costs more than the rest of a small checkpoint, and many saves land in the same
// millisecond. A save under a lease formats two instants (now, and now + the TTL), so the last two
// are kept, and past them the text up to the second is, so a new millisecond appends its digits.
let [ms0, ms1, iso0, iso1] = [Number.NaN, Number.NaN, "", ""];
const secondPrefixes = new Map<number, string>();
const lastValidMs = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z: the last the plain form spells
export function isoTime(ms: number): string {
  if (ms === ms0) return iso0;
  if (ms === ms1) return iso1;
  [ms1, iso1] = [ms0, iso0];
  [ms0, iso0] = [ms, formatIso(ms)];
  return iso0;
}

function formatIso(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms > lastValidMs) return new Date(ms).toISOString();
  const milli = ms % 1000;
  const second = ms - milli;
  let prefix = secondPrefixes.get(second);
  if (prefix === undefined) {
    if (secondPrefixes.size >= 8) secondPrefixes.clear();
    prefix = new Date(second).toISOString().slice(0, 20);
    secondPrefixes.set(second, prefix);
  }
  return `${prefix}${milli < 10 ? "00" : milli < 100 ? "0" : ""}${milli}Z`;
}

function hasKeys(record: object): boolean {
  for (const key in record) if (Object.hasOwn(record, key)) return true;
  return false;
}
