import type { Clock } from "../../clock.js";

/** A clock whose time moves only when told to: long waits pass in a test at once. */
export interface TestClock extends Clock {
  /** Moves the time forward by `ms` (>= 0). */
  advance(ms: number): void;
  /** Sets the time to `instant`, which must not be before the current time. */
  set(instant: Date | number): void;
}

/**
 * A clock for tests, starting at `start` (default: the real time when created). Its `sleep(ms)`
 * moves the time forward by `ms` and resolves on the next turn, so an in-process wait costs no real
 * time; `advance` and `set` move it between suspensions. Pass it as `createFoundry(name, { clock })`
 * and `createRecoveryCoordinator({ clock })`.
 */
export function createTestClock(start: Date | number = Date.now()): TestClock {
  let now = new Date(start).getTime();
  if (!Number.isFinite(now)) throw new TypeError(`createTestClock(start): start must be a valid date, got ${String(start)}`);
  const forward = (ms: number, what: string): void => {
    if (!(typeof ms === "number" && Number.isFinite(ms) && ms >= 0)) throw new TypeError(`${what} must be a non-negative number of milliseconds, got ${String(ms)}`);
    now += ms;
  };
  return {
    now: () => now,
    advance: (ms) => forward(ms, "testClock.advance(ms): ms"),
    set(instant) {
      const target = new Date(instant).getTime();
      if (!(target >= now)) throw new TypeError(`testClock.set(instant): instant must be a valid date not before ${new Date(now).toISOString()}`);
      now = target;
    },
    async sleep(ms, signal) {
      if (signal.aborted) throw signal.reason;
      forward(ms, "testClock.sleep(ms): ms");
      await Promise.resolve();
      if (signal.aborted) throw signal.reason;
    },
  };
}
