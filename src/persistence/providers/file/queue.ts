// One writer per instance in a provider: its saves and deletes of one instance queue in memory, so
// that 8 concurrent saves do not all spin on the lock file. Across providers and processes, the
// lock file (lock.ts) decides.

import { untilAborted } from "../shared.js";

/** How long a writer waits for its turn: until its signal aborts, or its deadline passes. */
export interface TurnWait {
  readonly signal: AbortSignal | undefined;
  /** The time (as `Date.now()`) to give up at; the same deadline then bounds the writer's wait for the lock. */
  readonly deadline: number;
  /** The error to give up with at the deadline. */
  readonly timedOut: () => Error;
}

// setTimeout fires at once for a longer delay; a wait that long is left to the writers before it.
const longestTimer = 2 ** 31 - 1;

// `previous`, unless the deadline passes first.
function beforeDeadline(previous: Promise<void>, wait: TurnWait): Promise<void> {
  const remaining = wait.deadline - Date.now();
  if (remaining > longestTimer) return previous;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, fail) => (timer = setTimeout(() => fail(wait.timedOut()), Math.max(0, remaining))));
  return Promise.race([previous, expired]).finally(() => clearTimeout(timer));
}

/** The in-process queues of writers, one per instance. */
export class WriterQueue {
  // The tail of each instance's queue, by the instance's base file name; gone once it is empty.
  readonly #tails = new Map<string, Promise<void>>();

  /**
   * Runs `body` once the writers queued before it for `base` are done; leaving the queue on abort
   * or at the deadline. A writer that leaves does not let the next one pass those before it.
   */
  async run(base: string, wait: TurnWait, body: () => Promise<void>): Promise<void> {
    const previous = this.#tails.get(base);
    let release = (): void => undefined;
    const turn = new Promise<void>((resolve) => (release = resolve));
    const tail = previous === undefined ? turn : previous.then(() => turn);
    this.#tails.set(base, tail);
    // Forgotten once every writer up to this one is done, not when this one leaves: a writer that
    // gave up while last in the queue must not let the next one pass those still before it.
    void tail.then(() => {
      if (this.#tails.get(base) === tail) this.#tails.delete(base);
    });
    try {
      if (previous !== undefined) await untilAborted(beforeDeadline(previous, wait), wait.signal);
      await body();
    } finally {
      release();
    }
  }
}
