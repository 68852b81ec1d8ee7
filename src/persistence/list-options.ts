import { isWorkflowForgeError } from "../errors.js";
import { describe, rejectUnknownKeys, requireOptionalFunction, requireOptionsObject } from "../internal/validate.js";
import type { SnapshotCorruptedError } from "./errors.js";
import { matchesFilter, type SnapshotFilter } from "./provider.js";
import { isSnapshotStatus, snapshotStatuses, type WorkflowExecutionSnapshot } from "./snapshot.js";

/** How `list()` treats a stored record it cannot read. */
export interface ListOptions {
  /**
   * Called with the `SnapshotCorruptedError` of each record that cannot be read (naming its keys, or
   * `"*"` where the record no longer says them); that record is left out and the others are
   * returned. Without it, one unreadable record makes the whole call reject with that error.
   */
  readonly onUnreadable?: ((error: SnapshotCorruptedError) => void) | undefined;
}

/**
 * Reads one record for a shipped provider's `list`: the snapshot when it matches the filter, or
 * `undefined` when it does not, or when it is unreadable and `onUnreadable` took its error.
 */
export type ListedReader = (read: () => WorkflowExecutionSnapshot | undefined) => WorkflowExecutionSnapshot | undefined;

/**
 * Validates `list`'s filter and third argument (a `TypeError` naming the one that is wrong) and
 * returns the reader it asks for. A filter key the provider does not know would otherwise be
 * ignored, and a cleanup that lists `{ stauts: "completed" }` to delete would list every record.
 */
export function listedReader(filter: SnapshotFilter | undefined, options: unknown, where: string): ListedReader {
  requireFilter(filter, `${where}.list(filter, signal, options): filter`);
  const what = `${where}.list(filter, signal, options): options`;
  const { onUnreadable } = requireOptionsObject(options, what) as ListOptions;
  rejectUnknownKeys(options ?? {}, ["onUnreadable"], what);
  requireOptionalFunction(onUnreadable, `${what}.onUnreadable`);
  const matching = (snapshot: WorkflowExecutionSnapshot | undefined) => (snapshot !== undefined && matchesFilter(snapshot, filter) ? snapshot : undefined);
  if (onUnreadable === undefined) return (read) => matching(read());
  return (read) => {
    try {
      return matching(read());
    } catch (error) {
      // By code rather than class: a codec built on another copy of the package throws its own class.
      if (!isWorkflowForgeError(error) || error.code !== "SNAPSHOT_CORRUPTED") throw error;
      onUnreadable(error as SnapshotCorruptedError);
      return undefined;
    }
  };
}

const filterKeys: readonly string[] = ["status", "workflowId", "workflowName", "updatedBefore"];

/** Throws `TypeError` naming `what` unless `value` is a `SnapshotFilter` (or undefined). */
export function requireFilter(value: unknown, what: string): void {
  const filter = requireOptionsObject(value, what);
  rejectUnknownKeys(filter, filterKeys, what);
  const { status, workflowId, workflowName, updatedBefore } = filter;
  if (status !== undefined && !(Array.isArray(status) ? status.every(isSnapshotStatus) : isSnapshotStatus(status))) {
    throw new TypeError(`${what}.status must be one of ${snapshotStatuses.join(", ")} (or an array of them), got ${describe(status)}`);
  }
  // Keys are opaque: one of blanks only is stored and found as itself.
  if (workflowId !== undefined) requireKey(workflowId, `${what}.workflowId`);
  if (workflowName !== undefined) requireKey(workflowName, `${what}.workflowName`);
  if (updatedBefore !== undefined && !isDate(updatedBefore)) {
    throw new TypeError(`${what}.updatedBefore must be a valid Date or date string, got ${updatedBefore instanceof Date ? "an invalid Date" : describe(updatedBefore)}`);
  }
}

function requireKey(value: unknown, what: string): void {
  if (typeof value !== "string" || value === "") throw new TypeError(`${what} must be a non-empty string, got ${describe(value)}`);
}

function isDate(value: unknown): boolean {
  if (value instanceof Date) return !Number.isNaN(value.getTime());
  return typeof value === "string" && !Number.isNaN(Date.parse(value));
}
