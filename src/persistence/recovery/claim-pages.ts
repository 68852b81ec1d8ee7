import { abortError } from "../../abort.js";
import { systemClock } from "../../clock.js";
import { PersistenceError, type SnapshotKeys } from "../errors.js";
import { holdAhead, isHeldHere, type HoldAhead } from "../held-here.js";
import { callProvider, loadSnapshot } from "../provider-call.js";
import { answeredWithin, savedWithin, settlesWithin, unanswered } from "./bounded-wait.js";
import { beforeClaim } from "./claim-hold.js";
import { anyInstance, listKeys } from "../keys.js";
import type { ListOptions } from "../list-options.js";
import { matchesFilter, type ClaimRequest, type SnapshotFilter, type WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { givenBack, handedBack, unleased } from "../snapshot-state.js";
import type { ResolvedCoordinatorOptions } from "./coordinator-options.js";
import type { RecoveryOutcome } from "./report.js";
import type { UnansweredClaim } from "./unanswered-claim.js";

/** A record the provider's `claim()` stored as this coordinator's: the run adopts it without writing a claim. */
export interface ClaimedSnapshot {
  readonly snapshot: WorkflowExecutionSnapshot;
  /** `performance.now()` when the claim was sent: the lease counts from there. */
  readonly claimedAt: number;
  /** `performance.now()` when the store answered: from there the record may move under the claim (`movedSinceClaim`). */
  readonly answeredAt: number;
  /**
   * This process's hold on the instance, taken with the claim so that no other coordinator or run
   * here starts it meanwhile: at once, or the instant a run here lets go of it.
   */
  readonly hold: HoldAhead;
}

/**
 * True when a pass claims by page: the provider declares `claim()` and has it, and the coordinator
 * reads real time. `claim()` compares one instant with both the leases (real time) and the wake times
 * (the coordinator's clock): with a test clock, a pass lists instead, and compares each by its own.
 */
export function claimsOnRealTime(options: ResolvedCoordinatorOptions): boolean {
  return options.clock === systemClock && claimsPages(options.provider);
}

/** True when the provider declares `claim()` and has it. */
export function claimsPages(provider: WorkflowPersistenceProvider): provider is WorkflowPersistenceProvider & Required<Pick<WorkflowPersistenceProvider, "claim">> {
  return provider.capabilities?.claim === true && typeof provider.claim === "function";
}

/**
 * Claims the next page of records this coordinator may run now, in one provider call (more when
 * the store matched only records of other workflows, see below). An empty page means nothing is
 * claimable at the moment: the pass is over.
 */
export async function claimPage(
  options: ResolvedCoordinatorOptions,
  filter: SnapshotFilter,
  limit: number,
  signal: AbortSignal,
  listOptions: ListOptions,
  // How many to ask the store for: twice the last call's when that one held strays alone.
  ask = limit,
): Promise<ClaimedSnapshot[]> {
  const { provider, leaseTtlMs, retry } = options;
  if (!claimsPages(provider)) return [];
  const claimedAt = performance.now();
  // Real time: the request's one instant is compared with stored leases as well as wake times, and
  // leases are real time. The coordinator claims by page only on real time (see `claimsOnRealTime`).
  const now = Date.now();
  const request: ClaimRequest = {
    owner: options.persistence.owner,
    now: new Date(now).toISOString(),
    leaseExpiresAt: new Date(now + leaseTtlMs).toISOString(),
    limit: ask,
    maxAttempts: retry.attempts,
    filter,
  };
  const page = await callProvider({ call: "claim", keys: keysOfFilter(filter) }, () => provider.claim(request, signal, listOptions));
  const answeredAt = performance.now();
  const claimed = page.map((snapshot) => ({ snapshot, claimedAt, answeredAt, hold: holdAhead(keysOf(snapshot)) }));
  // A store may match a name loosely (two spellings of odd names it cannot tell apart): a record of
  // another workflow than the filter's is given back, its attempt uncounted, rather than run here.
  const named: SnapshotFilter = { ...(filter.workflowId === undefined ? {} : { workflowId: filter.workflowId }), ...(filter.workflowName === undefined ? {} : { workflowName: filter.workflowName }) };
  const strays = claimed.filter(({ snapshot }) => !matchesFilter(snapshot, named));
  if (strays.length === 0) return claimed;
  await Promise.all(strays.map((stray) => releaseUnstarted(provider, stray, leaseTtlMs).catch(() => undefined)));
  const kept = claimed.filter((entry) => !strays.includes(entry));
  // A full page of strays alone would end the pass, though records of its own may stand behind them
  // (a store that orders the strays first again): again, asking for twice as many.
  return kept.length > 0 || page.length < ask ? kept : claimPage(options, filter, limit, signal, listOptions, ask * 2);
}

/**
 * {@link claimPage}, waited for at most one lease: a store that has not answered by then fails the
 * pass (PersistenceError naming `claim`). A page that arrives later is given back, so that nothing
 * stays claimed, and held here, by a pass that no longer waits for it; until it is, `earlier` keeps
 * this coordinator from sending another claim, for up to five leases (waited for a lease by each
 * pass, then failing it alike).
 */
export async function claimPageWithin(
  options: ResolvedCoordinatorOptions,
  filter: SnapshotFilter,
  limit: number,
  signal: AbortSignal,
  listOptions: ListOptions,
  earlier: UnansweredClaim,
): Promise<ClaimedSnapshot[]> {
  const { provider, leaseTtlMs } = options;
  const turn = await earlier.turn(leaseTtlMs);
  // Closing (or the caller's signal) while held off: nothing more is claimed.
  if (turn === "closing" || signal.aborted) return [];
  if (turn === "held") {
    throw new PersistenceError({ call: "claim", keys: keysOfFilter(filter), detail: `${unanswered(leaseTtlMs)}: an earlier claim of this coordinator is still unanswered, and no other is sent until it is` });
  }
  const sentAt = performance.now();
  const claiming = claimPage(options, filter, limit, signal, listOptions);
  if (await settlesWithin(claiming, leaseTtlMs)) return claiming;
  const giveBack = (late: ClaimedSnapshot[]) => Promise.all(late.map((claimed) => releaseUnstarted(provider, earlier.recount(claimed), leaseTtlMs).catch(() => undefined)));
  earlier.track(claiming.then(giveBack, () => undefined), sentAt);
  throw new PersistenceError({ call: "claim", keys: keysOfFilter(filter), detail: unanswered(leaseTtlMs) });
}

/**
 * Gives back a claimed record that never ran (the coordinator is closing): its next revision
 * without a lease, and without the attempt the claim counted, so another worker takes it at once.
 * A store that does not answer within `leaseTtlMs` fails it: by then the lease gave the record
 * back anyway. The hold in this process is dropped once the store answered (or not in time).
 */
export async function releaseUnstarted(provider: WorkflowPersistenceProvider, { snapshot, hold }: ClaimedSnapshot, leaseTtlMs: number): Promise<void> {
  const released = givenBack({ ...snapshot, revision: snapshot.revision + 1, updatedAt: new Date().toISOString() });
  try {
    await savedWithin(provider, released, leaseTtlMs);
  } finally {
    hold.drop();
  }
}

/**
 * Gives back a claimed record that will not start (the coordinator is closing, or the caller's
 * signal aborted), and says so: skipped as `closed`, or failed with the signal's abort error and
 * the attempts as stored after the give-back.
 */
export async function giveBackUnstarted(provider: WorkflowPersistenceProvider, claimed: ClaimedSnapshot, signal: AbortSignal, leaseTtlMs: number): Promise<RecoveryOutcome> {
  const ref = { instanceId: claimed.snapshot.foundryExecutionId, workflowKey: claimed.snapshot.workflowId };
  try {
    await releaseUnstarted(provider, claimed, leaseTtlMs);
  } catch (error) {
    return { ...ref, status: "failed", error: error instanceof Error ? error : new Error(String(error)), attempts: claimed.snapshot.attempts ?? 0, deadLettered: false };
  }
  if (signal.aborted) return { ...ref, status: "failed", error: abortError(signal, {}), attempts: beforeClaim(claimed.snapshot).attempts ?? 0, deadLettered: false };
  return { ...ref, status: "skipped", reason: "closed", detail: "the coordinator is closing; the claim was given back for another worker" };
}

/**
 * Loads the record a failed attempt left, at once, for {@link releaseLeftLease}: what is stored
 * later may be another claim's. Undefined when there is none (the attempt ended the instance), null
 * when the store cannot say (the lease then runs out).
 */
export function recordLeft(options: ResolvedCoordinatorOptions, keys: SnapshotKeys): Promise<WorkflowExecutionSnapshot | undefined | null> {
  return answeredWithin(loadSnapshot(options.provider, keys, undefined), options.leaseTtlMs, "tryLoad", keys).catch(() => null);
}

/**
 * Gives back the lease a failed attempt left on the record (`left`, loaded when it failed) when the
 * coordinator closes before the retry: its next revision without a lease, the attempt it ran still
 * counted, so that another worker takes it at once. A compare-and-set on `left`, refused when
 * anything wrote since (a claim made meanwhile, the retry's own run); left alone as well when a claim
 * or run of this process holds the instance now, unless the hold is this instance's own (`ownHold`).
 * Best effort, within the lease.
 */
export async function releaseLeftLease(options: ResolvedCoordinatorOptions, keys: SnapshotKeys, left: Promise<WorkflowExecutionSnapshot | undefined | null>, ownHold: HoldAhead | undefined): Promise<void> {
  const { provider, leaseTtlMs } = options;
  const stored = (await left) ?? undefined;
  const lease = stored?.owner === options.persistence.owner ? stored.leaseExpiresAt : undefined;
  if (stored === undefined || lease === undefined || Date.parse(lease) <= Date.now()) return;
  if (isHeldHere(keys) && ownHold?.pending !== true) return;
  const released = handedBack({ ...unleased(stored), revision: stored.revision + 1, updatedAt: new Date().toISOString() }) as unknown as WorkflowExecutionSnapshot;
  // Refused, or the store cannot take it back now: the lease runs out instead.
  await savedWithin(provider, released, leaseTtlMs).catch(() => undefined);
}

/**
 * The claims of a pass waiting for a lane, oldest first. A page holds `concurrency` records, so
 * behind long operations a claim can wait longer than its lease, which nothing renews before its
 * run starts: once it has waited half the lease it is given back, the attempt it
 * counted restored, and a later page claims it again with a lease of its own.
 */
export class QueuedClaims {
  readonly #provider: WorkflowPersistenceProvider;
  readonly #leaseTtlMs: number;
  readonly #maxWaitMs: number;
  readonly #queue: ClaimedSnapshot[] = [];
  readonly #givingBack: Promise<unknown>[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(provider: WorkflowPersistenceProvider, leaseTtlMs: number) {
    this.#provider = provider;
    this.#leaseTtlMs = leaseTtlMs;
    this.#maxWaitMs = leaseTtlMs / 2;
  }

  get length(): number {
    return this.#queue.length;
  }

  /** True while a claim of the instance waits here for a lane. */
  holds(keys: SnapshotKeys): boolean {
    return this.#queue.some(({ snapshot }) => snapshot.foundryExecutionId === keys.foundryExecutionId && snapshot.workflowId === keys.workflowId);
  }

  push(page: readonly ClaimedSnapshot[]): void {
    this.#queue.push(...page);
    this.#arm();
  }

  shift(): ClaimedSnapshot | undefined {
    const claimed = this.#queue.shift();
    if (this.#queue.length === 0) this.#disarm();
    return claimed;
  }

  /** Stops watching, once the give-backs under way have landed (or failed: the lease then runs out). */
  async close(): Promise<void> {
    this.#disarm();
    await Promise.all(this.#givingBack);
  }

  // One timer, for the oldest claim: pages are pushed in the order they were claimed.
  #arm(): void {
    const oldest = this.#queue[0];
    if (this.#timer !== undefined || oldest === undefined) return;
    this.#timer = setTimeout(() => this.#giveBackStale(), Math.max(0, oldest.claimedAt + this.#maxWaitMs - performance.now()));
    // The lanes keep the process alive while the pass runs; the timer must not after it.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #giveBackStale(): void {
    this.#timer = undefined;
    const cutoff = performance.now() - this.#maxWaitMs;
    while (this.#queue[0] !== undefined && this.#queue[0].claimedAt <= cutoff) {
      const claimed = this.#queue.shift() as ClaimedSnapshot;
      this.#givingBack.push(releaseUnstarted(this.#provider, claimed, this.#leaseTtlMs).catch(() => undefined));
    }
    this.#arm();
  }
}

// The keys a claim's errors carry: the filter's workflow, or placeholders naming no instance.
function keysOfFilter(filter: SnapshotFilter): SnapshotKeys {
  return filter.workflowId === undefined ? anyInstance : listKeys(filter);
}

function keysOf(snapshot: WorkflowExecutionSnapshot): { foundryExecutionId: string; workflowId: string } {
  return { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
}
