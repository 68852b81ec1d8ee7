import type { Clock } from "../../clock.js";

/** A clock whose time moves only when told to: long waits pass in a test at once. */
export interface TestClock extends Clock {
  /** Moves the time forward by `ms` (>= 0). Throws `TypeError` for a step past the last valid date. */
  advance(ms: number): void;
  /** Sets the time to `instant`, which must not be before the current time. */
  set(instant: Date | number): void;
}

interface Sleeper {
  readonly wake: number;
  readonly resolve: () => void;
}

// The last instant a Date can hold (100,000,000 days after the epoch): past it toISOString throws.
const lastValidMs = 8.64e15;

/**
 * A clock for tests, starting at `start` (default: the real time when created). Its `sleep(ms)`
 * resolves on a later turn with the time moved forward to its wake time, so an in-process wait costs
 * no real time; concurrent sleeps wake in order of wake time, each at its own. `advance` and `set`
 * move it between suspensions. Pass it as `createFoundry(name, { clock })` and
 * `createRecoveryCoordinator({ clock })`.
 */
export function createTestClock(start: Date | number = Date.now()): TestClock {
  let now = new Date(start).getTime();
  if (!Number.isFinite(now)) throw new TypeError(`createTestClock(start): start must be a valid date, got ${String(start)}`);
  const sleepers: Sleeper[] = []; // by wake time, then call order
  let waking = false;

  const after = (ms: number, what: string): number => {
    if (!(typeof ms === "number" && Number.isFinite(ms) && ms >= 0)) throw new TypeError(`${what} must be a non-negative number of milliseconds, got ${String(ms)}`);
    if (now + ms > lastValidMs) {
      throw new TypeError(`${what} must not move the time past the last valid date ${new Date(lastValidMs).toISOString()}, got ${String(ms)} from ${new Date(now).toISOString()}`);
    }
    return now + ms;
  };
  // One sleeper per turn: the one woken runs on (and may sleep again, before the others' wake
  // times) before the time jumps to the next wake time.
  const wakeNext = (): void => {
    waking = false;
    const first = sleepers.shift();
    if (first === undefined) return;
    now = Math.max(now, first.wake);
    first.resolve();
    schedule();
  };
  const schedule = (): void => {
    if (waking || sleepers.length === 0) return;
    waking = true;
    setImmediate(wakeNext);
  };

  return {
    now: () => now,
    advance(ms) {
      now = after(ms, "testClock.advance(ms): ms");
    },
    set(instant) {
      const target = new Date(instant).getTime();
      if (!(target >= now)) throw new TypeError(`testClock.set(instant): instant must be a valid date not before ${new Date(now).toISOString()}`);
      now = target;
    },
    async sleep(ms, signal) {
      if (signal.aborted) throw signal.reason;
      const wake = after(ms, "testClock.sleep(ms): ms");
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          sleepers.splice(sleepers.indexOf(sleeper), 1);
          reject(signal.reason as Error);
        };
        const sleeper: Sleeper = {
          wake,
          resolve: () => {
            signal.removeEventListener("abort", onAbort);
            resolve();
          },
        };
        const later = sleepers.findIndex((other) => other.wake > wake);
        sleepers.splice(later === -1 ? sleepers.length : later, 0, sleeper);
        signal.addEventListener("abort", onAbort, { once: true });
        schedule();
      });
    },
  };
}
