import { requireName, requireNonNegativeInteger, requireOptionsObject, rejectUnknownKeys } from "../internal/validate.js";
import { waitFor } from "../foundry.js";
import type { Operation } from "../types.js";
import type { WaitSpec } from "../waits.js";

function waitOperation<TInput, TOutput>(name: string, wait: WaitSpec): Operation<TInput, TOutput> {
  return {
    name,
    wait,
    forge: (input, foundry, signal) => foundry[waitFor](wait, input, signal) as Promise<TOutput>,
  };
}

// Waits are durable under persistence, so they may be far longer than a timer can run. Their wake
// time is stored as a date, which cannot be ages away: a century is more than any wait needs.
const maxWaitMs = 3_155_760_000_000;

function requireWaitMs(ms: unknown, what: string): number {
  requireNonNegativeInteger(ms, what);
  if ((ms as number) > maxWaitMs) throw new TypeError(`${what} must be at most ${maxWaitMs} (100 years), got ${ms as number}`);
  return ms as number;
}

/**
 * Throws a TypeError when `operation` is a wait. A composite operation runs its children within its
 * own step, whose checkpoint keeps no wake time for them: nested, a wait would be neither durable
 * nor able to suspend the run, so it is refused where it is nested.
 */
export function refuseNestedWait(operation: Operation<any, any, any>, what: string): void {
  if (operation.wait === undefined) return;
  throw new TypeError(`${what}: "${operation.name}" is a wait, which cannot be nested in another operation; add it to the workflow itself, where it is durable (delay() pauses within an operation)`);
}

/**
 * Waits `ms` milliseconds, then passes its input on. Under persistence the wake time is stored when
 * the operation is first reached, so a resumed run waits only for what is left; a long sleep
 * suspends the run (see `PersistenceOptions.waitInProcessMs`) instead of holding a worker.
 */
export function sleep<T = any>(name: string, ms: number): Operation<T, T> {
  requireName(name, "sleep(name, ms)");
  return waitOperation(name, { kind: "sleep", ms: requireWaitMs(ms, `sleep "${name}": ms`) });
}

/** Waits until `until`, then passes its input on; at once when that instant has passed. Durable like {@link sleep}. */
export function sleepUntil<T = any>(name: string, until: Date | string | number): Operation<T, T> {
  requireName(name, "sleepUntil(name, until)");
  // new Date(null) and new Date(true) are instants too (the epoch, one millisecond after it).
  const accepted = until instanceof Date || typeof until === "string" || typeof until === "number";
  const at = accepted ? new Date(until).getTime() : Number.NaN;
  if (!Number.isFinite(at)) throw new TypeError(`sleepUntil "${name}": until must be a valid date, got ${String(until)}`);
  return waitOperation(name, { kind: "until", at });
}

/** The options of {@link waitForEvent}. */
export interface WaitForEventOptions {
  /** Fail with `WaitTimeoutError` when the event has not arrived this long after the wait was first reached. @default no timeout */
  readonly timeoutMs?: number | undefined;
}

/**
 * Waits for the event `event` sent to this instance (`coordinator.signal`) and outputs its payload.
 * An event sent before the run reaches the wait is kept and consumed here; each event is consumed
 * by one wait, once. Needs `usePersistence` with a provider that declares `capabilities.mailbox`.
 */
export function waitForEvent<T = unknown>(name: string, event: string, options: WaitForEventOptions = {}): Operation<any, T> {
  const where = `waitForEvent "${String(name)}"`;
  requireName(name, "waitForEvent(name, event)");
  requireName(event, `${where}: event`);
  rejectUnknownKeys(requireOptionsObject(options, `${where}: options`), ["timeoutMs"], `${where}: options`);
  const { timeoutMs } = options;
  if (timeoutMs !== undefined) requireWaitMs(timeoutMs, `${where}: options.timeoutMs`);
  return waitOperation(name, { kind: "event", event, timeoutMs });
}
