import { setTimeout as delay } from "node:timers/promises";

// A store whose driver waits for a lock synchronously (better-sqlite3's busy timeout blocks the
// event loop: `workflowforge ui` would answer nothing else meanwhile) is opened with a short busy
// timeout instead, and a call the lock refuses is tried again after a pause, until its deadline.

/** The busy timeout the CLI opens SQLite with: the longest the event loop is held by one try. */
export const busyWaitMs = 5;

const firstPauseMs = 5;
const maxPauseMs = 100;

/** True when SQLite refused for a lock: SQLITE_BUSY (another connection's), SQLITE_LOCKED (this one's). */
export function isBusy(error: unknown): boolean {
  for (let at = error; typeof at === "object" && at !== null; at = (at as { cause?: unknown }).cause) {
    const code = (at as { code?: unknown }).code;
    if (typeof code === "string" && /^SQLITE_(BUSY|LOCKED)/.test(code)) return true;
  }
  return false;
}

/**
 * What `attempt()` resolves with, trying again after a pause (5 ms, doubling up to 100 ms) while it
 * fails with an error `retryable` accepts, until `signal` aborts; then it fails with the last error.
 * Only for calls that change nothing when they fail so: SQLite rolls a refused statement back.
 */
export async function whileBusy<T>(attempt: () => Promise<T> | T, retryable: (error: unknown) => boolean, signal: AbortSignal): Promise<T> {
  for (let pause = firstPauseMs; ; pause = Math.min(2 * pause, maxPauseMs)) {
    try {
      return await attempt();
    } catch (error) {
      if (!retryable(error) || signal.aborted) throw error;
      // An abort ends the pause early (rejecting, which is not the failure to report).
      await delay(pause, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) throw error;
    }
  }
}
