// The plumbing every provider repeats, written once: the options bag and codec checks, the table
// name check of the SQL providers, abort handling, and setup run once it succeeds.

import { messageOf } from "../../errors.js";
import { describe as describeValue, notPlainObject, rejectUnknownKeys, requireOptionsObject } from "../../internal/validate.js";
import { defaultSnapshotCodec, requireCodec, type SnapshotCodec } from "../codec/codec.js";
import type { DeliveredEvent } from "../mailbox.js";

/**
 * A provider's options with their defaults filled in: every one present and none `undefined` (which
 * the options accept, to mean the default).
 */
export type ResolvedOptions<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };

/**
 * The options bag `input` of a provider's constructor, described as `where` (its class and
 * `(options)`): an object (undefined reads as `{}`) holding only `known` keys, or a TypeError. A
 * driver handed over in place of the options (no plain object, and no `driver` option) is told to
 * go under `driver`, rather than have its own fields named as unknown options.
 */
export function providerOptions<T extends object>(input: unknown, where: string, known: readonly (keyof T & string)[], driver?: keyof T & string): Partial<T> {
  const options = requireOptionsObject(input, `${where}: options`);
  const kind = driver === undefined || driver in options ? undefined : notPlainObject(options);
  if (kind !== undefined) throw new TypeError(`${where}: options must be an object of options, got ${kind}: pass a driver as options.${driver} ({ ${driver} })`);
  rejectUnknownKeys(options, known, where);
  return options as Partial<T>;
}

/** The `codec` option: the default codec when undefined, else checked (a TypeError naming it). */
export function codecOption(codec: unknown, where: string): SnapshotCodec {
  return codec === undefined ? defaultSnapshotCodec : requireCodec(codec, `${where}: options.codec`);
}

const identifier = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** The namespace a database keeps for its own objects: names starting with `prefix` (matched by `pattern`). */
export interface ReservedNames {
  readonly pattern: RegExp;
  readonly prefix: string;
  /** Who reserves it, for the message: `SQLite reserves for its own tables`. */
  readonly owner: string;
}

/**
 * A table or schema name option (`options.<name>`): a plain SQL identifier of 1 to 63 characters,
 * outside the database's reserved namespace. Checked at construction, since the database would
 * refuse it (or, for Postgres, resolve it to a system catalog) only at first use.
 */
export function requireIdentifier(value: unknown, name: string, where: string, reserved: ReservedNames): string {
  if (typeof value !== "string" || !identifier.test(value)) {
    throw new TypeError(`${where}: options.${name} must match ${String(identifier)}, got ${describeValue(value)}`);
  }
  if (reserved.pattern.test(value)) {
    throw new TypeError(`${where}: options.${name} must not start with "${reserved.prefix}", which ${reserved.owner}, got ${describeValue(value)}`);
  }
  return value;
}

/**
 * `tableName`, unless it ends in a suffix the provider names its own tables and indexes with
 * (`suffixes`: each suffix and what it names): a provider on "orders_mailbox" would take the events
 * table of the one on "orders" for its own, and both break. `foldCase` for a database that compares
 * names case-insensitively (SQLite); Postgres's quoted names keep their case.
 */
export function refuseDerivedName(tableName: string, suffixes: Readonly<Record<string, string>>, where: string, foldCase: boolean): string {
  const compared = foldCase ? tableName.toLowerCase() : tableName;
  for (const [suffix, what] of Object.entries(suffixes)) {
    const base = tableName.slice(0, -suffix.length);
    if (base !== "" && compared.endsWith(suffix)) {
      throw new TypeError(`${where}: options.tableName must not end in "${suffix}", which names ${what} of tableName "${base}", got "${tableName}"`);
    }
  }
  return tableName;
}

/** `value` if it is an Error, else an Error with its message and `value` as `cause`. */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(messageOf(value), { cause: value });
}

/**
 * Throws the signal's reason once it aborted: the reason itself when it is an Error (what
 * `signal.throwIfAborted()` throws), else an Error made of it (see {@link asError}).
 */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw asError(signal.reason);
}

/** `task()`, or a promise rejected with what it threw: one that throws instead of rejecting fails the same way. */
export function rejectionOf<T>(task: () => Promise<T>): Promise<T> {
  try {
    return task();
  } catch (error) {
    return Promise.reject(asError(error));
  }
}

/** True when `error` is what an aborted `signal` made a call throw: its reason, or the Error made of it. */
export function isAbortOf(error: unknown, signal: AbortSignal | undefined): boolean {
  if (signal?.aborted !== true) return false;
  return error === signal.reason || (error instanceof Error && error.cause === signal.reason);
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts; the work itself goes on. */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(asError(signal.reason));
  return new Promise<T>((settle, fail) => {
    const forget = whenAborted(signal, (reason) => fail(asError(reason)));
    void promise.then(settle, fail).finally(forget);
  });
}

// One listener per signal for all the calls waiting on it: runs sharing an application's shutdown
// signal wait on it by the hundred, and a listener each would pass Node's leak warning at eleven.
const waitingOn = new WeakMap<AbortSignal, Set<(reason: unknown) => void>>();

/** Calls `onAbort` with the reason when `signal` aborts, until the returned function is called. */
export function whenAborted(signal: AbortSignal, onAbort: (reason: unknown) => void): () => void {
  let waiting = waitingOn.get(signal);
  if (waiting === undefined) {
    const created = new Set<(reason: unknown) => void>();
    waitingOn.set(signal, created);
    signal.addEventListener("abort", () => [...created].forEach((call) => call(signal.reason)), { once: true });
    waiting = created;
  }
  const mine = waiting.add(onAbort);
  return () => void mine.delete(onAbort);
}

/**
 * A setup step (a directory, a table, prepared statements) made on first use and kept once it
 * succeeded. A failure, thrown or a rejected promise, is forgotten, so the next call tries again.
 */
export class SetupOnce<T> {
  readonly #create: () => T;
  #made: { readonly value: T } | undefined;
  #done = false;

  constructor(create: () => T) {
    this.#create = create;
  }

  /** True once the setup succeeded (a promise: resolved): callers on a hot path skip awaiting it then. */
  get done(): boolean {
    return this.#done;
  }

  /** The setup's result, made now on the first call or after a failure. */
  get(): T {
    if (this.#made !== undefined) return this.#made.value;
    const value = this.#create();
    this.set(value);
    return value;
  }

  /** Keeps `value` as the setup's result, as `migrate()` does after setting up ahead of time. */
  set(value: T): void {
    const made = { value };
    this.#made = made;
    if (!(value instanceof Promise)) {
      this.#done = true;
      return;
    }
    this.#done = false;
    void value.then(
      () => {
        if (this.#made === made) this.#done = true;
      },
      () => {
        if (this.#made === made) this.#made = undefined;
      },
    );
  }
}

const eventFields = ["foundryExecutionId", "workflowId", "name", "eventId", "sentAt"] as const;

/** Throws a TypeError naming `where` and the field unless `event` has the string fields of a delivered event, `sentAt` a time. */
export function requireEvent(event: unknown, where: string): asserts event is DeliveredEvent {
  if (typeof event !== "object" || event === null) throw new TypeError(`${where}: event must be an object, got ${describeValue(event)}`);
  for (const field of eventFields) {
    const value = (event as Record<string, unknown>)[field];
    if (typeof value !== "string") throw new TypeError(`${where}: event.${field} must be a string, got ${describeValue(value)}`);
  }
  // A wait past its timeout receives only events sent in time: an instant that does not parse
  // would never be, and the event would sit unread in the mailbox for good.
  if (Number.isNaN(Date.parse((event as DeliveredEvent).sentAt))) throw new TypeError(`${where}: event.sentAt must be an ISO 8601 time, got ${describeValue((event as DeliveredEvent).sentAt)}`);
}
