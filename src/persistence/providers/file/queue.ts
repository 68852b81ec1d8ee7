// One writer per instance in a provider: its saves and deletes of one instance queue in memory, so
// that 8 concurrent saves do not all spin on the lock file. Across providers and processes, the
// lock file (lock.ts) decides.

import { untilAborted } from "../shared.js";

/** The in-process queues of writers, one per instance. */
export class WriterQueue {
  // The tail of each instance's queue, by the instance's base file name; gone once it is empty.
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `body` once the writers queued before it for `base` are done; leaving the queue on abort. */
  async run(base: string, signal: AbortSignal | undefined, body: () => Promise<void>): Promise<void> {
    const previous = this.#tails.get(base);
    let release = (): void => undefined;
    const turn = new Promise<void>((resolve) => (release = resolve));
    const tail = previous === undefined ? turn : previous.then(() => turn);
    this.#tails.set(base, tail);
    try {
      if (previous !== undefined) await untilAborted(previous, signal);
      await body();
    } finally {
      release();
      if (this.#tails.get(base) === tail) this.#tails.delete(base);
    }
  }
}
