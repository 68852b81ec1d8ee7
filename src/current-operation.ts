import { MiddlewareError, type ErrorLocation } from "./errors.js";
import { isThenable } from "./internal/thenable.js";
import { nestedRunFailure } from "./run-errors.js";

/**
 * What became of the operation a run's middleware chain is at, as the innermost layer saw it; the
 * run reads it once the chain settled. An operation that completed under a layer that then threw
 * (a log line, a metric, a check of the output) made its effects, so it is compensated with the
 * others. And the operation of a `next()` called after its chain settled must not start at all.
 */
export class CurrentOperation {
  // The operation whose chain is running, -1 once it settled.
  #index = -1;
  #completed = false;
  // Completed before the run's signal aborted.
  #inTime = false;
  #result: unknown;
  readonly #locate: (index: number) => ErrorLocation;
  readonly #runSignal: AbortSignal;

  constructor(locate: (index: number) => ErrorLocation, runSignal: AbortSignal) {
    this.#locate = locate;
    this.#runSignal = runSignal;
  }

  /** The run calls operation `index`'s chain. */
  open(index: number): void {
    this.#index = index;
    this.#completed = false;
    this.#inTime = false;
    this.#result = undefined;
  }

  /** Throws `MiddlewareError` unless operation `index`'s chain is running: a `next()` called after it settled may not start it. */
  requireOpen(index: number): void {
    if (index !== this.#index) throw new MiddlewareError(this.#locate(index), "an operation middleware called next() after its operation had settled");
  }

  /**
   * Follows what operation `index`'s forge returned, and returns what the layers get: a rejection as
   * {@link nestedRunFailure} reads it (`since`, `signal`, `location`, `run`). In the one reaction that
   * reading needs anyway: following costs an operation no promise of its own.
   */
  follow(index: number, outcome: unknown, since: number, signal: AbortSignal, location: () => ErrorLocation, run: number): unknown {
    if (!isThenable(outcome)) {
      this.ended(index, true, outcome);
      return outcome;
    }
    return Promise.resolve(outcome).then(
      (value) => (this.ended(index, true, value), value),
      (error: unknown) => {
        throw nestedRunFailure(error, since, signal, location, run);
      },
    );
  }

  /** Operation `index` settled: `completed` with `result`, or failed (ignored once its chain settled). */
  ended(index: number, completed: boolean, result: unknown): void {
    if (index !== this.#index) return;
    this.#completed = completed;
    this.#inTime = completed && !this.#runSignal.aborted;
    this.#result = result;
  }

  /**
   * Whether the operation completed before the run was aborted: a run whose last operation did
   * completed, even if it was aborted since (its record may be deleted already). One aborted first
   * was refused its checkpoint: a layer that returned a value for that cannot make the run complete.
   */
  get completedInTime(): boolean {
    return this.#inTime;
  }

  /** What the operation completed with, when it did. */
  get result(): unknown {
    return this.#result;
  }

  /** The chain settled: returns whether the operation completed in it. */
  close(): boolean {
    this.#index = -1;
    return this.#completed;
  }
}
