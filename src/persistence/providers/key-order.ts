import { rejectionOf } from "./shared.js";

// Writes of one instance in the order they were called, one at a time. A provider that groups its
// writes keeps saves and deletes in separate queues, and may run two statements at once on a pool:
// without this, a delete called after a save of the same instance could reach the store first
// (the save waiting in a busy queue, the delete going at once through an idle one), and a second
// save of an instance could run on another connection before the first committed.

/** Runs each task once every earlier task of its key has settled. */
export class KeyOrder {
  readonly #last = new Map<string, Promise<unknown>>();

  /** `task()`, at once when no earlier task of `key` is pending, else after the last of them settles. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const before = this.#last.get(key);
    // A task that throws instead of rejecting fails the same way; later tasks of its key still run.
    const done = before === undefined ? rejectionOf(task) : before.then(task, task);
    this.#last.set(key, done);
    const forget = (): void => {
      if (this.#last.get(key) === done) this.#last.delete(key);
    };
    done.then(forget, forget);
    return done;
  }
}
