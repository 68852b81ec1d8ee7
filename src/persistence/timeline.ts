import type { SnapshotTimeline, WorkflowExecutionSnapshot } from "./snapshot.js";

/**
 * Definitions with more operations than this keep no timeline: it is rewritten with every
 * checkpoint, so its cost per step grows with the number of operations.
 */
export const timelineOperationLimit = 1000;

/**
 * When each operation of a run first started, last finished, and how many times it was executed,
 * kept as milliseconds after the instance's `createdAt` (-1: not yet). Bounded by the number of
 * operations, never by the number of executions, and written with the checkpoints that happen
 * anyway: a checkpoint that lets the next operation start counts that operation as started, so an
 * operation re-executed after a crash counts twice without a write of its own.
 */
export class Timeline {
  readonly #origin: number;
  readonly #startedAt: number[];
  readonly #finishedAt: number[];
  readonly #executions: number[];
  // The highest operation this run counted: a renewal's save does not count the running one again.
  #counted = -1;

  private constructor(origin: number, startedAt: number[], finishedAt: number[], executions: number[]) {
    this.#origin = origin;
    this.#startedAt = startedAt;
    this.#finishedAt = finishedAt;
    this.#executions = executions;
  }

  /**
   * The timeline of a definition of `count` operations whose instance was created at `origin`
   * (epoch ms), continuing `stored` when it fits; undefined past {@link timelineOperationLimit}.
   */
  static of(count: number, origin: number, stored?: SnapshotTimeline): Timeline | undefined {
    if (count > timelineOperationLimit) return undefined;
    if (stored !== undefined && stored.executions.length === count) {
      return new Timeline(origin, [...stored.startedAt], [...stored.finishedAt], [...stored.executions]);
    }
    return new Timeline(origin, new Array<number>(count).fill(-1), new Array<number>(count).fill(-1), new Array<number>(count).fill(0));
  }

  /** Operation `index` starts now. */
  started(index: number, now = Date.now()): void {
    if (index > this.#counted) this.#count(index, now);
  }

  /** A checkpoint is about to be stored after which operation `index` starts: it counts it. */
  announce(index: number, now = Date.now()): void {
    if (index > this.#counted && index < this.#executions.length) this.#count(index, now);
  }

  /** Operation `index` finished now (completed or failed). */
  finished(index: number, now = Date.now()): void {
    if (index < this.#finishedAt.length) this.#finishedAt[index] = this.#offset(now);
  }

  /** A copy for a snapshot. */
  toSnapshot(): SnapshotTimeline {
    return { startedAt: [...this.#startedAt], finishedAt: [...this.#finishedAt], executions: [...this.#executions] };
  }

  #count(index: number, now: number): void {
    this.#counted = index;
    this.#executions[index] = (this.#executions[index] ?? 0) + 1;
    if ((this.#startedAt[index] ?? -1) < 0) this.#startedAt[index] = this.#offset(now);
  }

  // Clocks of two processes may disagree: an offset is never negative.
  #offset(now: number): number {
    return Math.max(0, now - this.#origin);
  }
}

/** One operation of a snapshot's timeline, with its times as dates. */
export interface OperationTimeline {
  readonly index: number;
  /** When it first started; undefined when it never did. */
  readonly startedAt: Date | undefined;
  /** When it last finished (completed or failed); undefined when it never did. */
  readonly finishedAt: Date | undefined;
  /** How many times it was executed: more than 1 when it ran again after a crash or a failure. */
  readonly executions: number;
}

/**
 * The timeline of `snapshot`, one entry per operation of its definition, in order; undefined when
 * the snapshot has none (written before timelines existed, or a definition of more than 1,000
 * operations).
 */
export function readTimeline(snapshot: Pick<WorkflowExecutionSnapshot, "createdAt" | "timeline">): OperationTimeline[] | undefined {
  const { timeline } = snapshot;
  if (timeline === undefined) return undefined;
  const origin = Date.parse(snapshot.createdAt);
  const at = (offset: number | undefined): Date | undefined => (offset === undefined || offset < 0 ? undefined : new Date(origin + offset));
  return timeline.executions.map((executions, index) => ({ index, startedAt: at(timeline.startedAt[index]), finishedAt: at(timeline.finishedAt[index]), executions }));
}
