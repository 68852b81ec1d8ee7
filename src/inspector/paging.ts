// Pages of the list, newest first. A page by offset shifts when a record is saved between two
// requests (every save moves its row to the top), so the page pages by cursor: the position of
// its last row in the list's own total order (updatedAt, then keys: byUpdatedAt), which a save
// moving rows above it does not change.

import { byUpdatedAt, type Ordered } from "../cli/summary.js";
import { HttpError } from "./http.js";
import type { InstanceRow } from "./views.js";

/** Where a page starts: after the row a cursor names, or at an offset into the list. */
export type PageStart = { readonly after: Ordered } | { readonly offset: number };

/** One page: where it starts in the list as it is now, its rows, and the cursor of the next page (null: none). */
export interface Page {
  readonly offset: number;
  readonly items: InstanceRow[];
  readonly next: string | null;
}

const orderedOf = (row: InstanceRow): Ordered => ({ updatedAt: row.updatedAt, foundryExecutionId: row.instance, workflowId: row.workflowKey });

/**
 * The cursor of `row`: the JSON of [updatedAt, instance, workflowKey]. JSON escapes a lone
 * surrogate in a key, which a URL's UTF-8 would turn into U+FFFD and so name another row.
 */
export const cursorOf = (row: InstanceRow): string => JSON.stringify([row.updatedAt, row.instance, row.workflowKey]);

/** The row a cursor names, or a 400 for anything {@link cursorOf} does not make. */
export function parseCursor(text: string): Ordered {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // refused below
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || !parsed.every((part) => typeof part === "string")) {
    throw new HttpError(400, "after must be the next cursor of a previous answer (the JSON of [updatedAt, instance, workflowKey])");
  }
  const [updatedAt, foundryExecutionId, workflowId] = parsed as [string, string, string];
  return { updatedAt, foundryExecutionId, workflowId };
}

/** The page of `rows` (sorted newest first, by byUpdatedAt reversed) that `start` names, `limit` rows long. */
export function pageOf(rows: readonly InstanceRow[], start: PageStart, limit: number): Page {
  const offset = "offset" in start ? start.offset : firstAfter(rows, start.after);
  const items = rows.slice(offset, offset + limit);
  const last = items.at(-1);
  return { offset, items, next: last === undefined || offset + items.length >= rows.length ? null : cursorOf(last) };
}

// The first row older than the cursor; the cursor's own row may be gone (deleted, or saved since).
function firstAfter(rows: readonly InstanceRow[], after: Ordered): number {
  const index = rows.findIndex((row) => byUpdatedAt(orderedOf(row), after) < 0);
  return index === -1 ? rows.length : index;
}
