import { isThenable } from "./internal/thenable.js";
import type { Logger } from "./types.js";

const noop = (): void => {};

/** The default logger: says nothing. Pass `console` (or any console-like object) to see logs. */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });

const levels = ["debug", "info", "warn", "error"] as const;

/**
 * Throws a TypeError naming `what` unless `value` has the four console-like methods (own or
 * inherited, as pino's and winston's are): a logger missing one would fail the run that first logs
 * at that level, far from the option that was wrong.
 */
export function requireLogger(value: unknown, what: string): Logger {
  const holder = (typeof value === "object" && value !== null) || typeof value === "function" ? (value as Record<string, unknown>) : undefined;
  const missing = levels.filter((level) => typeof holder?.[level] !== "function");
  if (missing.length > 0) throw new TypeError(`${what} must be a console-like object with debug, info, warn and error functions; ${missing.join(", ")} missing`);
  return value as Logger;
}

/**
 * `logger[level](message, ...details)`, which never throws: a logger whose transport failed (a
 * closed file, a full pipe) throws or returns a rejected promise, and a line about a run must not
 * fail that run, nor end the process as an unhandled rejection or an exception thrown in a timer.
 */
export function logSafely(logger: Logger, level: (typeof levels)[number], message: string, ...details: unknown[]): void {
  try {
    const returned: unknown = logger[level](message, ...details);
    if (isThenable(returned)) returned.then(undefined, () => undefined);
  } catch {
    // Nowhere left to report it.
  }
}
