import type { MaybePromise } from "../types.js";
import type { ListOptions } from "./list-options.js";
import type { WorkflowExecutionSnapshot, SnapshotStatus } from "./snapshot.js";
import type { SnapshotKeys } from "./errors.js";
import type { DeliveredEvent } from "./mailbox.js";

/** Narrows `list()`. Every field is optional; all given fields must match. */
export interface SnapshotFilter {
  readonly status?: SnapshotStatus | readonly SnapshotStatus[];
  readonly workflowId?: string;
  readonly workflowName?: string;
  /** Only snapshots last updated before this instant. */
  readonly updatedBefore?: Date | string;
}

/** What a provider declares it supports. Declared, never probed. */
export interface ProviderCapabilities {
  /** `save` accepts only `snapshot.revision === stored revision + 1` and otherwise rejects with `SnapshotConflictError`. */
  readonly compareAndSet?: boolean;
  /** `list()` is implemented. */
  readonly list?: boolean;
  /** `claim()` is implemented: the recovery coordinator claims what it runs a page at a time, in one call. */
  readonly claim?: boolean;
  /**
   * `deliver()` and `receive()` are implemented (events for `waitForEvent`), `delete()` also
   * removes the instance's events, and `claim()`, when declared, returns the waiting records a
   * delivery marked due.
   */
  readonly mailbox?: boolean;
  /** `subscribe()` is implemented: the store tells the coordinator of deliveries as they happen. */
  readonly push?: boolean;
}

/** What `claim()` takes: whose claim, until when, and how many records at most. */
export interface ClaimRequest {
  /** Written as each claimed record's `owner`. */
  readonly owner: string;
  /** The instant this claim is made (ISO 8601): leases that end at or before it may be taken over; written as `updatedAt`. */
  readonly now: string;
  /**
   * Written as each claimed record's `leaseExpiresAt` (ISO 8601). A claim the store runs once this
   * instant has passed by its own clock claims nothing: see {@link claimArrivedLate}.
   */
  readonly leaseExpiresAt: string;
  /** At most this many records are claimed (an integer >= 1). */
  readonly limit: number;
  /** A `failed` or `compensating` record whose `attempts` reached this is a dead letter: never claimed. */
  readonly maxAttempts: number;
  /** Narrows what is claimed, as for `list()`; `status` defaults to every unfinished status. */
  readonly filter?: Omit<SnapshotFilter, "updatedBefore">;
}

/**
 * Bring your own storage: three methods. Each may be synchronous or return a promise; each receives
 * the run's abort signal.
 *
 * - `tryLoad` of an unknown key resolves `undefined` (or `null`).
 * - `delete` of an unknown key resolves.
 * - `save` is an atomic replace: a reader sees the old or the new snapshot, never a mix.
 * - Keys are opaque strings of any characters; `("a|b", "c")` and `("a", "b|c")` are different.
 */
export interface WorkflowPersistenceProvider {
  save(snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal): MaybePromise<void>;
  tryLoad(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): MaybePromise<WorkflowExecutionSnapshot | undefined | null>;
  delete(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): MaybePromise<void>;
  readonly capabilities?: ProviderCapabilities;
  /**
   * Snapshots matching `filter`. `options.onUnreadable` asks to go on past records that cannot be
   * read (the recovery coordinator and the CLI pass it); a provider may ignore it and reject instead.
   */
  list?(filter?: SnapshotFilter, signal?: AbortSignal, options?: ListOptions): AsyncIterable<WorkflowExecutionSnapshot> | Promise<WorkflowExecutionSnapshot[]>;
  /**
   * Atomically claims up to `request.limit` records that {@link isClaimable} accepts, and resolves
   * with them as now stored: each one's next revision with `owner`, `leaseExpiresAt` and `updatedAt`
   * from the request and `attempts` one higher, everything else unchanged. Two calls, from any
   * processes, never claim the same revision. A claim that reaches the store after its own lease
   * has ended ({@link claimArrivedLate}, by the store's clock) resolves `[]` and changes nothing.
   * Declared by `capabilities.claim`; without it the coordinator lists and claims each record with
   * a compare-and-set save.
   */
  claim?(request: ClaimRequest, signal?: AbortSignal, options?: ListOptions): Promise<WorkflowExecutionSnapshot[]>;
  /**
   * Stores `event` unless its instance already has an event with its `eventId` (first write wins,
   * also between processes), in one write, and resolves whether it stored it. The instance need not
   * exist yet. When the stored record is `waiting` for `event.name`, the same write marks it due:
   * `claim()` returns it from then on (until its next save), and `subscribe`'s listeners are told.
   * A save of a record `waiting` for a name is marked due by the same write when the mailbox holds
   * an event of that name not in its `consumedEvents`. Declared by `capabilities.mailbox`.
   */
  deliver?(event: DeliveredEvent, signal?: AbortSignal): Promise<boolean>;
  /** The instance's stored events named `name`, in the order they were first delivered. */
  receive?(keys: SnapshotKeys, name: string, signal?: AbortSignal): Promise<DeliveredEvent[]>;
  /**
   * Calls `listener` (from any process's deliveries) whenever a delivery marked a record due, until
   * the returned function is called. Declared by `capabilities.push`; a hint to look, never the
   * only way to find due work.
   */
  subscribe?(listener: () => void, signal?: AbortSignal): Promise<() => Promise<void>>;
}

// The methods each capability promises.
const declaredMethods: Readonly<Record<keyof ProviderCapabilities, readonly (keyof WorkflowPersistenceProvider)[]>> = {
  compareAndSet: [],
  list: ["list"],
  claim: ["claim"],
  mailbox: ["deliver", "receive"],
  push: ["subscribe"],
};

/**
 * Throws `TypeError` naming `what` when `provider` declares one of `capabilities` (by default all)
 * without a method it promises: found only when first needed, it would be a coordinator that
 * never resumes anything, or a wait that fails after the operations before it ran.
 */
export function requireDeclaredMethods(provider: WorkflowPersistenceProvider, what: string, capabilities = Object.keys(declaredMethods) as (keyof ProviderCapabilities)[]): void {
  for (const capability of capabilities) {
    if (provider.capabilities?.[capability] !== true) continue;
    const missing = declaredMethods[capability].filter((method) => typeof provider[method] !== "function");
    if (missing.length > 0) throw new TypeError(`${what} declares capabilities.${capability} but has no ${missing.map((method) => `${method}()`).join(" or ")} method`);
  }
}

/** Statuses a coordinator may run: `waiting` only once due. */
export const unfinishedStatuses: readonly SnapshotStatus[] = ["running", "failed", "compensating", "waiting"];

/**
 * True when `claim(request)` may claim `snapshot` now: unfinished (and of a status the filter
 * names), matching the rest of the filter, under no live lease of any owner, not a dead letter (a
 * `failed` or `compensating` record at `maxAttempts` with no lease), and,
 * when waiting, due: its `wakeAt` is not after `request.now`, or a delivery marked it (`markedDue`).
 * The single definition for providers that decide in memory; SQL and scripts state the same.
 */
export function isClaimable(snapshot: WorkflowExecutionSnapshot, request: ClaimRequest, markedDue = false): boolean {
  const { status, leaseExpiresAt, attempts } = snapshot;
  if (!unfinishedStatuses.includes(status) || !matchesFilter(snapshot, { status: unfinishedStatuses, ...request.filter })) return false;
  if (leaseExpiresAt !== undefined && Date.parse(leaseExpiresAt) > Date.parse(request.now)) return false;
  if (status === "waiting") return markedDue || (snapshot.wakeAt !== undefined && Date.parse(snapshot.wakeAt) <= Date.parse(request.now));
  // A dead letter as a coordinator writes it has no lease. One still carrying its (expired) lease
  // is one whose last claimant died, past its last attempt, before writing it: it is claimed, so
  // that a coordinator writes it and reports it, rather than leaving it as the dead worker left it.
  return !(status !== "running" && (attempts ?? 0) >= request.maxAttempts && leaseExpiresAt === undefined);
}

/**
 * True when `request` runs at `nowMs` (the store's clock) or later than its own lease's end: such a
 * claim claims nothing. A store that stalls and then runs the claims queued meanwhile would
 * otherwise take each record once per queued claim, each finding the lease of the one before
 * expired: every one of them counts an attempt, and none is run, as their senders gave up on them.
 * The check needs the store's clock and the claimants' within a lease of each other, as leases do.
 * For providers that decide in the calling process; SQL and scripts compare with the server's clock.
 */
export function claimArrivedLate(request: ClaimRequest, nowMs = Date.now()): boolean {
  return !(Date.parse(request.leaseExpiresAt) > nowMs);
}

/** The record `claim(request)` stores for `snapshot`: for providers that rewrite the whole record. */
export function claimedSnapshot(snapshot: WorkflowExecutionSnapshot, request: ClaimRequest): WorkflowExecutionSnapshot {
  const { owner, leaseExpiresAt, now } = request;
  return { ...snapshot, revision: snapshot.revision + 1, owner, leaseExpiresAt, updatedAt: now, attempts: (snapshot.attempts ?? 0) + 1 };
}

/** True when `snapshot` satisfies every field of `filter`. For providers that filter in memory. */
export function matchesFilter(snapshot: WorkflowExecutionSnapshot, filter: SnapshotFilter = {}): boolean {
  const { status, workflowId, workflowName, updatedBefore } = filter;
  if (status !== undefined && !(typeof status === "string" ? status === snapshot.status : status.includes(snapshot.status))) return false;
  if (workflowId !== undefined && workflowId !== snapshot.workflowId) return false;
  if (workflowName !== undefined && workflowName !== snapshot.workflowName) return false;
  if (updatedBefore !== undefined && !(Date.parse(snapshot.updatedAt) < new Date(updatedBefore).getTime())) return false;
  return true;
}
