// What the page shows, built from snapshots with the CLI's own definitions: the summary of
// `list --json`, the stale/claimed state of `list`, and the coordinator's dead-letter rule.

import { byCodeUnits, summarize, type SnapshotSummary } from "../cli/summary.js";
import { stateOf } from "../cli/stale.js";
import { isDeadLetter } from "../persistence/recovery/dead-letter.js";
import type { WorkflowExecutionSnapshot } from "../persistence/snapshot.js";
import { timelineOf, type TimelineStep } from "./timeline.js";
import { answerBudget, cut, describeEntries, describeValue, first, keyName, type ValueNode } from "./value.js";

/** `live` (a lease ahead), `expired` (behind, on a record nothing needs to run), `stale` (see stateOf), `none`. */
export type LeaseState = "live" | "expired" | "stale" | "none";

/** One row of the list: the `list --json` summary, its lease state and whether it is a dead letter. */
export interface InstanceRow extends SnapshotSummary {
  readonly lease: LeaseState;
  readonly deadLetter: boolean;
}

/** The lease state of `snapshot` at `now` (epoch ms). */
export function leaseState(snapshot: WorkflowExecutionSnapshot, now: number): LeaseState {
  if (stateOf(snapshot, now).state === "stale") return "stale";
  if (snapshot.leaseExpiresAt === undefined) return "none";
  return Date.parse(snapshot.leaseExpiresAt) > now ? "live" : "expired";
}

/**
 * A dead letter at rest: failed (or compensating) with `maxAttempts` attempts, and under no live
 * lease. A claim on its last attempt stores those attempts too, while a worker still runs it: that
 * one is not retried from here, or the worker's next save is refused and a restore it ran runs again.
 */
export function isRestingDeadLetter(snapshot: WorkflowExecutionSnapshot, maxAttempts: number, now: number): boolean {
  return isDeadLetter(snapshot, maxAttempts) && !(snapshot.leaseExpiresAt !== undefined && Date.parse(snapshot.leaseExpiresAt) > now);
}

/**
 * The list row of `snapshot`; see {@link isRestingDeadLetter} for which records are dead letters.
 * The error's name and message are cut at 20,000 characters, as every string the page receives
 * (the detail's `error` says how long they were).
 */
export function rowOf(snapshot: WorkflowExecutionSnapshot, now: number, maxAttempts: number): InstanceRow {
  const summary = summarize(snapshot, now);
  const error = summary.error === null ? null : { ...summary.error, name: cut(summary.error.name), message: cut(summary.error.message) };
  return { ...summary, error, lease: leaseState(snapshot, now), deadLetter: isRestingDeadLetter(snapshot, maxAttempts, now) };
}

/** The list's status filter: a stored status, or what the inspector tells from one. */
export const listStatuses = ["running", "failed", "compensating", "completed", "waiting", "cancelled", "stale", "overdue", "dead-letter"] as const;
export type ListStatus = (typeof listStatuses)[number];

/** Whether `row` passes the status filter `status`. */
export function matchesStatus(row: InstanceRow, status: ListStatus): boolean {
  if (status === "stale") return row.lease === "stale";
  if (status === "overdue") return row.state === "overdue";
  if (status === "dead-letter") return row.deadLetter;
  return row.status === status;
}

/** Case-insensitive: keys, workflow name and version, owner, and the error's name, message and operation. */
export function matchesSearch(row: InstanceRow, needle: string): boolean {
  if (needle === "") return true;
  const { instance, workflowKey, workflowName, version, owner, error } = row;
  const fields = [instance, workflowKey, workflowName, version, owner, error?.name, error?.message, error?.operationName];
  const lower = needle.toLowerCase();
  return fields.some((field) => field != null && field.toLowerCase().includes(lower));
}

/**
 * What the page shows of one instance; values as {@link ValueNode} trees. Its lists hold at most
 * 200 items each, as a value's collections do; `sizes` says how many are stored. Its values share
 * one budget (see {@link answerBudget}); `cut` says that some were left out for it.
 */
export interface InstanceDetail {
  readonly row: InstanceRow;
  readonly fingerprint: string;
  readonly timeline: TimelineStep[];
  readonly properties: [string, ValueNode][];
  readonly lastOutput: ValueNode | null;
  readonly outputs: [number, ValueNode][];
  /** The stored error with every field it has (name, message, operation; stack and cause where stored). */
  readonly error: [string, ValueNode][] | null;
  /** The run's annotations (`run.annotations`), as stored. */
  readonly annotations: [string, string][];
  /** The ids of the events its waits consumed, oldest first. */
  readonly consumedEvents: readonly string[];
  /** How many properties, outputs, annotations and consumed events are stored, shown or not. */
  readonly sizes: { readonly properties: number; readonly outputs: number; readonly annotations: number; readonly consumedEvents: number };
  /** True when the values did not all fit in one answer: what is left out is marked where it would be. */
  readonly cut: boolean;
}

/** The detail of `snapshot`, its row included. */
export function detailOf(snapshot: WorkflowExecutionSnapshot, now: number, maxAttempts: number): InstanceDetail {
  // Object keys that are indexes come in ascending order: the first 200 are the first 200 steps.
  const stored = Object.entries(snapshot.outputs ?? {});
  const annotations = Object.entries(snapshot.annotations ?? {});
  const consumedEvents = snapshot.consumedEvents ?? [];
  // The error first: why it failed matters more than the properties, should the budget run out.
  const budget = answerBudget();
  const error = snapshot.error === undefined ? null : describeEntries(snapshot.error as unknown as Record<string, unknown>, budget);
  const properties = describeEntries(snapshot.properties, budget);
  const lastOutput = "lastOutput" in snapshot ? describeValue(snapshot.lastOutput, budget) : null;
  const outputs = first(stored).map(([index, value]): [number, ValueNode] => [Number(index), describeValue(value, budget)]);
  return {
    row: rowOf(snapshot, now, maxAttempts),
    fingerprint: snapshot.definitionFingerprint,
    timeline: timelineOf(snapshot),
    properties,
    lastOutput,
    outputs,
    error,
    annotations: first(annotations).map(([key, text]) => [keyName(key), cut(text)]),
    consumedEvents: first(consumedEvents).map(keyName),
    sizes: { properties: Object.keys(snapshot.properties).length, outputs: stored.length, annotations: annotations.length, consumedEvents: consumedEvents.length },
    cut: budget.cut,
  };
}

/** Dead letters of one workflow that stopped on the same operation with the same error. */
export interface DeadLetterGroup {
  readonly workflowName: string;
  readonly operationName: string;
  readonly errorName: string;
  readonly message: string;
  readonly instances: InstanceRow[];
}

/** A group as the page gets it: how many dead letters it has, and the first of them. */
export interface DeadLetterGroupPage extends Omit<DeadLetterGroup, "instances"> {
  readonly count: number;
  readonly instances: InstanceRow[];
}

/**
 * The largest groups, and their first dead letters, within `limit` of each: a page that draws
 * every row of an outage's thousands of dead letters at each refresh stops answering clicks.
 */
export function firstDeadLetters(groups: readonly DeadLetterGroup[], limit: number): { total: number; groupCount: number; groups: DeadLetterGroupPage[] } {
  let left = limit;
  const shown = groups.slice(0, limit).map(({ instances, ...group }) => {
    const first = instances.slice(0, left);
    left -= first.length;
    return { ...group, count: instances.length, instances: first };
  });
  return { total: groups.reduce((sum, group) => sum + group.instances.length, 0), groupCount: groups.length, groups: shown };
}

/** Dead letters grouped by workflow and by the error they stopped on, largest group first. */
export function groupDeadLetters(rows: readonly InstanceRow[]): DeadLetterGroup[] {
  const groups = new Map<string, DeadLetterGroup>();
  for (const row of rows) {
    if (!row.deadLetter) continue;
    const group = { workflowName: row.workflowName, operationName: row.error?.operationName ?? "", errorName: row.error?.name ?? "", message: row.error?.message ?? "" };
    const key = JSON.stringify(Object.values(group));
    const existing = groups.get(key) ?? { ...group, instances: [] };
    existing.instances.push(row);
    groups.set(key, existing);
  }
  return [...groups.values()].sort((a, b) => b.instances.length - a.instances.length || byCodeUnits(a.workflowName, b.workflowName));
}
