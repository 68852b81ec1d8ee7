import type { SnapshotStatus } from "../persistence/snapshot.js";
import { parseDuration, type Duration } from "./duration.js";
import { usageError } from "./errors.js";

/** Which snapshots `list` shows and `prune` deletes; every given field must match. */
export interface Selection {
  readonly statuses?: readonly SnapshotStatus[];
  /** Matches the workflow's name or its workflow key. */
  readonly workflow?: string;
  /** Last updated at least this long ago. */
  readonly olderThan?: Duration;
}

/** The filter flags as parsed, for {@link parseSelection}. */
export interface SelectionFlags {
  readonly status?: readonly string[] | undefined;
  readonly workflow?: string | undefined;
  readonly "older-than"?: string | undefined;
}

// A record, so that a status added to SnapshotStatus does not compile here until it is listed.
const statusNames: Record<SnapshotStatus, true> = { running: true, failed: true, compensating: true, completed: true, waiting: true, cancelled: true };
/** Every stored status, in the order the help lists them. */
export const statuses = Object.keys(statusNames) as SnapshotStatus[];

/** The filters of `list` and `prune`. Throws a usage `CliError` naming the flag that is wrong. */
export function parseSelection(command: string, values: SelectionFlags): Selection {
  const result: { statuses?: SnapshotStatus[]; workflow?: string; olderThan?: Duration } = {};
  if (values.status !== undefined) result.statuses = parseStatuses(command, values.status);
  if (values.workflow !== undefined) result.workflow = parseWorkflow(command, values.workflow);
  const olderThan = values["older-than"];
  if (olderThan !== undefined) {
    const ms = parseDuration(olderThan);
    if (ms === undefined) throw usageError(`--older-than "${olderThan}" is not a duration: use a whole number and a unit (s, m, h, d, w), e.g. 30s, 15m, 2h, 7d`, command);
    result.olderThan = { text: olderThan.trim(), ms };
  }
  return result;
}

// Empty names nothing the stores keep (they refuse it as a filter); a key of spaces is a key like any.
function parseWorkflow(command: string, text: string): string {
  if (text === "") throw usageError('--workflow needs a workflow name or workflow key, not ""', command);
  return text;
}

function parseStatuses(command: string, texts: readonly string[]): SnapshotStatus[] {
  const words = texts.flatMap((text) => text.split(",")).map((word) => word.trim());
  for (const word of words) {
    if (!Object.hasOwn(statusNames, word)) throw usageError(`--status "${word}" is not one of ${statuses.join(", ")}`, command);
  }
  return [...new Set(words as SnapshotStatus[])];
}
