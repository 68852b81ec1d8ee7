// The steps of one instance, as far as its snapshot tells. Every snapshot says how far it got
// (nextOperationIndex of operationCount) and where it failed (error.operationIndex); a snapshot that
// also records per-operation times and execution counts adds when each step ran and which ran more
// than once. Records written before that field existed show the derived steps only.

import type { WorkflowExecutionSnapshot } from "../persistence/snapshot.js";

/**
 * - `done`: completed; `next`: the one a resume starts with; `pending`: not reached.
 * - `failed`: the operation the stored error names.
 * - while compensating: `to-restore` (completed, its restore still to run), `restored`.
 */
export type StepState = "done" | "next" | "pending" | "failed" | "to-restore" | "restored";

export interface TimelineStep {
  readonly index: number;
  readonly name: string | null;
  readonly state: StepState;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  /** How many times it ran (more than 1: it ran again after a crash or a retry); null when not recorded. */
  readonly executions: number | null;
}

// At most this many steps are described: a definition is rarely longer, and the page stays small.
const maxSteps = 1_000;

export function timelineOf(snapshot: WorkflowExecutionSnapshot): TimelineStep[] {
  const recorded = recordedSteps(snapshot);
  const count = Math.min(snapshot.operationCount, maxSteps);
  const steps: TimelineStep[] = [];
  for (let index = 0; index < count; index++) {
    const entry = recorded(index);
    const name = text(entry?.name) ?? text(entry?.operationName) ?? (snapshot.error?.operationIndex === index ? snapshot.error.operationName : null);
    const executions = entry === undefined ? null : countOf(entry);
    steps.push({ index, name, state: stateOfStep(snapshot, index), startedAt: time(entry?.startedAt), finishedAt: time(entry?.finishedAt), executions });
  }
  return steps;
}

function stateOfStep(snapshot: WorkflowExecutionSnapshot, index: number): StepState {
  const { nextOperationIndex: next, status, error } = snapshot;
  const failedAt = error?.operationIndex;
  if (status === "compensating") {
    // Operations [0, next) are still to restore; those after them were restored, back to the failure.
    if (index < next) return "to-restore";
    if (index === failedAt) return "failed";
    return failedAt !== undefined && index < failedAt ? "restored" : "pending";
  }
  if (index < next) return "done";
  if (status === "failed" && index === failedAt) return "failed";
  if (index === next && status !== "completed") return "next";
  return "pending";
}

type Entry = Record<string, unknown>;

const isEntry = (value: unknown): value is Entry => typeof value === "object" && value !== null && !Array.isArray(value);
const text = (value: unknown): string | null => (typeof value === "string" && value !== "" ? value : null);

function time(value: unknown): string | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (typeof value === "number" && Number.isFinite(value)) return new Date(value).toISOString();
  return typeof value === "string" && !Number.isNaN(Date.parse(value)) ? value : null;
}

function countOf(entry: Entry): number | null {
  for (const key of ["executions", "attempts", "runs", "count"]) {
    const value = entry[key];
    if (typeof value === "number" && Number.isInteger(value) && value >= 0) return value;
  }
  return null;
}

// The per-operation record, wherever the snapshot keeps it: an array by index, or an object keyed
// by index, under `timeline` (or its `operations`). Anything else reads as no record.
function recordedSteps(snapshot: WorkflowExecutionSnapshot): (index: number) => Entry | undefined {
  const holder = snapshot as unknown as Record<string, unknown>;
  let source = holder.timeline ?? holder.operations;
  if (isEntry(source) && (Array.isArray(source.operations) || isEntry(source.operations))) source = source.operations;
  if (Array.isArray(source)) {
    const byIndex = new Map<number, Entry>();
    source.forEach((entry: unknown, position) => {
      if (isEntry(entry)) byIndex.set(typeof entry.index === "number" ? entry.index : position, entry);
    });
    return (index) => byIndex.get(index);
  }
  if (isEntry(source)) {
    const record = source;
    return (index) => {
      const entry = record[String(index)];
      return isEntry(entry) ? entry : undefined;
    };
  }
  return () => undefined;
}
