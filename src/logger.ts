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
