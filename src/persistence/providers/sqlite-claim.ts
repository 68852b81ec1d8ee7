import type { ListedReader } from "../list-options.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import type { SqlQuery } from "./sql-query.js";
import { inSavepoint, type Guard } from "./sqlite-mailbox.js";
import type { SqliteRow } from "./sqlite-sql.js";
import { anyInstance } from "../keys.js";

/** What claimRows needs from the provider. */
export interface ClaimSteps {
  readonly guard: Guard;
  /** The claim statement, passing over the rows of `excluded` (rowids). */
  readonly statement: (excluded: readonly number[]) => SqlQuery | undefined;
  /** Runs the statement, returning the rows it claimed. */
  readonly run: (query: SqlQuery) => SqliteRow[];
  /** Reads one claimed row (its columns as the claim wrote them). */
  readonly read: (row: SqliteRow) => WorkflowExecutionSnapshot;
}

// Thrown inside the savepoint to undo a claim that took rows it could not read.
class UnreadableTaken extends Error {
  constructor(readonly rowids: readonly number[]) {
    super("the claim took rows it could not read");
  }
}

/**
 * Claims in a savepoint with the reading of what the statement returned, so that a claim that
 * rejects (a row it cannot read, without `onUnreadable`) takes nothing. A row `reader` reports
 * through `onUnreadable` is not taken either: the claim is undone and made again without it, so
 * the record stays as it was (no lease, no attempt counted) and the page is filled with others.
 * Each such row is reported once a call: the claims made again pass over it.
 */
export function claimRows(steps: ClaimSteps, reader: ListedReader): WorkflowExecutionSnapshot[] {
  const excluded: number[] = [];
  for (;;) {
    const query = steps.statement(excluded);
    if (query === undefined) return [];
    try {
      return inSavepoint(steps.guard, "claim", anyInstance, () => steps.run(query), (rows) => readAll(rows, steps, reader));
    } catch (error) {
      if (!(error instanceof UnreadableTaken)) throw error;
      excluded.push(...error.rowids);
    }
  }
}

function readAll(rows: readonly SqliteRow[], steps: ClaimSteps, reader: ListedReader): WorkflowExecutionSnapshot[] {
  const unreadable: number[] = [];
  const snapshots = rows.flatMap((row) => {
    // Claimed rows all match the request's filter: undefined is a row reported as unreadable.
    const snapshot = reader(() => steps.read(row));
    if (snapshot === undefined) unreadable.push(Number(row.rowid));
    return snapshot ?? [];
  });
  if (unreadable.length > 0) throw new UnreadableTaken(unreadable);
  return snapshots;
}
