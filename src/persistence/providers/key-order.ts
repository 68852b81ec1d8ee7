import { asError, rejectionOf, whenAborted } from "./shared.js";

// Writes of one instance in the order they were called, one at a time. A provider that groups its
// writes keeps saves and deletes in separate queues, and may run two statements at once on a pool:
// without this, a delete called after a save of the same instance could reach the store first
// (the save waiting in a busy queue, the delete going at once through an idle one), and a second
// save of an instance could run on another connection before the first committed.

/** Runs each task once every earlier task of its key has settled. */
export class KeyOrder {
  readonly #last = new Map<string, Promise<unknown>>();

  /**
   * `task()`, at once when no earlier task of `key` is pending, else after the last of them settles.
   * A task whose `signal` aborts while it waits rejects at once with the signal's reason and never
   * runs (an earlier task may hang: a statement waiting on a lock); one that started is its own.
   */
  run<T>(key: string, task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const before = this.#last.get(key);
    let started = false;
    const start = (): Promise<T> => {
      if (signal?.aborted === true) return Promise.reject(asError(signal.reason));
      started = true;
      return task();
    };
    // A task that throws instead of rejecting fails the same way; later tasks of its key still run.
    const done = before === undefined ? rejectionOf(start) : before.then(start, start);
    this.#last.set(key, done);
    const forget = (): void => {
      if (this.#last.get(key) === done) this.#last.delete(key);
    };
    done.then(forget, forget);
    return before === undefined || signal === undefined ? done : this.#untilAborted(done, signal, () => started);
  }

  // `done`, or its rejection with the signal's reason once it aborts before the task started. The
  // tasks after it still wait for `done`, which settles when the earlier tasks did.
  #untilAborted<T>(done: Promise<T>, signal: AbortSignal, started: () => boolean): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const forget = whenAborted(signal, (reason) => {
        if (!started()) reject(asError(reason));
      });
      void done.then(resolve, reject).finally(forget);
    });
  }
}
