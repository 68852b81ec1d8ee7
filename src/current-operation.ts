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
  #result: unknown;
  readonly #locate: (index: number) => ErrorLocation;

  constructor(locate: (index: number) => ErrorLocation) {
    this.#locate = locate;
  }

  /** The run calls operation `index`'s chain. */
  open(index: number): void {
    this.#index = index;
    this.#completed = false;
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
    this.#result = result;
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
