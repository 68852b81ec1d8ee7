import { sleep } from "./abort.js";
import { describe, maxTimerMs } from "./internal/validate.js";

/**
 * Where a foundry (and the recovery coordinator) reads the time and waits. Wake times of durable
 * waits are read from it, so a test clock can make a 30-day sleep pass in a millisecond. Leases
 * (written and compared) and timeouts of the engine itself stay on real time, so that workers agree
 * on who holds an instance whatever clock each was given.
 */
export interface Clock {
  /** Milliseconds since the epoch, like `Date.now()`. */
  now(): number;
  /** Resolves after `ms` milliseconds of this clock; rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

// setTimeout fires at once for delays past maxTimerMs (about 24.8 days): longer sleeps go in steps.

/** Real time: `Date.now()` and `setTimeout`. */
export const systemClock: Clock = {
  now: () => Date.now(),
  async sleep(ms, signal) {
    for (let left = ms; left > 0; left -= maxTimerMs) await sleep(Math.min(left, maxTimerMs), signal, {});
    if (signal.aborted) throw signal.reason;
  },
};

/** Throws `TypeError` naming `what` unless `value` has `now` and `sleep` functions. */
export function requireClock(value: unknown, what: string): Clock {
  const candidate = value as Partial<Clock> | null | undefined;
  if (typeof candidate !== "object" || candidate === null || typeof candidate.now !== "function" || typeof candidate.sleep !== "function") {
    throw new TypeError(`${what} must be a clock with now() and sleep(ms, signal), got ${describe(value)}`);
  }
  return candidate as Clock;
}
