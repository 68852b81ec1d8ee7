import { isWorkflowForgeError } from "../errors.js";
import { rejectUnknownKeys, requireOptionalFunction, requireOptionsObject } from "../internal/validate.js";
import type { SnapshotCorruptedError } from "./errors.js";
import { matchesFilter, type SnapshotFilter } from "./provider.js";
import type { WorkflowExecutionSnapshot } from "./snapshot.js";

/** How `list()` treats a stored record it cannot read. */
export interface ListOptions {
  /**
   * Called with the `SnapshotCorruptedError` of each record that cannot be read (naming its keys, or
   * `"*"` where the record no longer says them); that record is left out and the others are
   * returned. Without it, one unreadable record makes the whole call reject with that error.
   */
  readonly onUnreadable?: (error: SnapshotCorruptedError) => void;
}

/**
 * Reads one record for a shipped provider's `list`: the snapshot when it matches the filter, or
 * `undefined` when it does not, or when it is unreadable and `onUnreadable` took its error.
 */
export type ListedReader = (read: () => WorkflowExecutionSnapshot | undefined) => WorkflowExecutionSnapshot | undefined;

/** Validates `list`'s third argument (a `TypeError` naming it) and returns the reader it asks for. */
export function listedReader(filter: SnapshotFilter | undefined, options: unknown, where: string): ListedReader {
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
