// The steps of one instance, as far as its snapshot tells. Every snapshot says how far it got
// (nextOperationIndex of operationCount) and where it failed (error.operationIndex); one that also
// carries a timeline (per operation: first started, last finished, executions) adds when each step
// ran and which ran more than once. Records written before the timeline existed, or of definitions
// too long to keep one, show the derived steps only.

import type { WorkflowExecutionSnapshot } from "../persistence/snapshot.js";
import { readTimeline } from "../persistence/timeline.js";

/**
 * - `done`: completed; `next`: the one a resume starts with; `pending`: not reached.
 * - `waiting`: the durable wait a waiting instance is suspended at; `cancelled`: where a cancelled one stopped.
 * - `failed`: the operation the stored error names.
 * - while compensating: `to-restore` (completed, its restore still to run), `restored`.
 */
export type StepState = "done" | "next" | "waiting" | "cancelled" | "pending" | "failed" | "to-restore" | "restored";

/** One operation of an instance, as the page's timeline shows it. */
export interface TimelineStep {
  readonly index: number;
  /** Known for the operation the stored error names; snapshots do not store the others' names. */
  readonly name: string | null;
  readonly state: StepState;
  /** ISO-8601, when it first started; null when it never did or the record does not say. */
  readonly startedAt: string | null;
  /** ISO-8601, when it last finished (completed or failed). */
  readonly finishedAt: string | null;
  /** How many times it was executed (2 or more: again after a crash or a retry); null when not recorded. */
  readonly executions: number | null;
}

// At most this many steps are described, as many as a timeline is kept for.
const maxSteps = 1_000;

/** The steps of `snapshot`, one per operation of its definition (at most 1,000). */
export function timelineOf(snapshot: WorkflowExecutionSnapshot): TimelineStep[] {
  // Only a timeline of this definition (one entry per operation) is read.
  const stored = readTimeline(snapshot);
  const recorded = stored?.length === snapshot.operationCount ? stored : undefined;
  const iso = (date: Date | undefined): string | null => (date === undefined || Number.isNaN(date.getTime()) ? null : date.toISOString());
  const steps: TimelineStep[] = [];
  for (let index = 0; index < Math.min(snapshot.operationCount, maxSteps); index++) {
    const entry = recorded?.[index];
    steps.push({
      index,
      name: snapshot.error?.operationIndex === index ? snapshot.error.operationName : null,
      state: stateOfStep(snapshot, index),
      startedAt: iso(entry?.startedAt),
      finishedAt: iso(entry?.finishedAt),
      executions: entry?.executions ?? null,
    });
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
  if (index === next && (status === "waiting" || status === "cancelled")) return status;
  if (index === next && status !== "completed") return "next";
  return "pending";
}
