import { MiddlewareError, type ErrorLocation } from "./errors.js";
import { isThenable } from "./internal/thenable.js";

/**
 * What became of the operation a run's middleware chain is at, as the innermost layer saw it; the
 * run reads it once the chain settled. An operation that completed under a layer that then threw
 * (a log line, a metric, a check of the output) made its effects, so it is compensated with the
 * others. One still running when its chain resolved was left behind by a layer that did not await
 * `next()`. And the operation of a `next()` called after its chain settled must not start at all.
 */
export class CurrentOperation {
  // The operation whose chain is running, -1 once it settled.
  #index = -1;
  #running: Promise<unknown> | undefined;
  #signal: AbortSignal | undefined;
  #settled = false;
  #completed = false;
  #result: unknown;
  readonly #locate: (index: number) => ErrorLocation;

  constructor(locate: (index: number) => ErrorLocation) {
    this.#locate = locate;
  }

  /** The run calls operation `index`'s chain. */
  open(index: number): void {
    this.#index = index;
    this.#running = undefined;
    this.#signal = undefined;
    this.#settled = false;
    this.#completed = false;
    this.#result = undefined;
  }

  /** Throws `MiddlewareError` unless operation `index`'s chain is running: a `next()` called after it settled may not start it. */
  requireOpen(index: number): void {
    if (index !== this.#index) throw new MiddlewareError(this.#locate(index), "an operation middleware called next() after its operation had settled");
  }

  /** Follows what operation `index`'s forge returned (given `signal`), and returns what the layers get. */
  follow(index: number, signal: AbortSignal, outcome: unknown): unknown {
    this.#signal = signal;
    if (!isThenable(outcome)) {
      this.#end(index, true, outcome);
      return outcome;
    }
    const running = Promise.resolve(outcome).then(
      (value) => (this.#end(index, true, value), value),
      (error: unknown) => {
        this.#end(index, false, undefined);
        throw error;
      },
    );
    this.#running = running;
    return running;
  }

  /**
   * When the chain resolved while its operation still ran (and was not given up on: its signal did
   * not abort), the misuse to fail the run with, once the operation settled; else undefined.
   */
  leftBehind(): Promise<Error> | undefined {
    const running = this.#running;
    if (running === undefined || this.#settled || this.#signal?.aborted !== false) return undefined;
    const index = this.#index;
    const misuse = (): Error => new MiddlewareError(this.#locate(index), "an operation middleware resolved before its operation settled (await or return next())");
    return running.then(misuse, misuse);
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

  #end(index: number, completed: boolean, result: unknown): void {
    if (index !== this.#index) return;
    this.#settled = true;
    this.#completed = completed;
    this.#result = result;
  }
}
