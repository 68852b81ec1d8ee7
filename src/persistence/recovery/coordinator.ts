import { neverAborted, sharedSignal } from "../../abort.js";
import { requireDelayMs, requireFunction, requireName, requireOptionsObject, requireTimerMs, rejectUnknownKeys } from "../../internal/validate.js";
import type { Workflow } from "../../workflow.js";
import { SnapshotConflictError, type SnapshotCorruptedError } from "../errors.js";
import { pairKey } from "../keys.js";
import { requireFilter, type ListOptions } from "../list-options.js";
import { unfinishedStatuses, type SnapshotFilter } from "../provider.js";
import { callProvider, loadSnapshot } from "../provider-call.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { resolveCoordinatorOptions, type RecoveryCoordinatorOptions, type ResolvedCoordinatorOptions } from "./coordinator-options.js";
import { enqueuedSnapshot, type EnqueueOptions, type PropertiesOf } from "./enqueue.js";
import { dueSnapshots, listSnapshots } from "./list.js";
import { QueuedClaims, claimPageWithin, claimsOnRealTime, giveBackUnstarted, type ClaimedSnapshot } from "./claim-pages.js";
import { UnansweredClaim } from "./unanswered-claim.js";
import { keysOf, reportOf, type InstanceRef, type RecoveryOutcome, type RecoveryReport } from "./report.js";
import { settlesWithin } from "./bounded-wait.js";
import { lostClaimSettleMs } from "../cancellation.js";
import { resumeInstance } from "./resume-instance.js";
import { cancelInstance, type CancelOptions, type CancelOutcome } from "./cancel.js";
import { signalInstance, type SignalOptions, type SignalResult } from "./signal.js";
import { WakeLoop } from "./wake-loop.js";
import { Lanes } from "./lanes.js";
import { requireRunOptions } from "./run-arguments.js";
import type { CloseOptions, RecoveryCoordinator, RecoveryRunOptions, StartOptions } from "./coordinator-api.js";

export type { RecoveryCoordinatorOptions } from "./coordinator-options.js";
export type { RecoveryCoordinator, RecoveryRunOptions, StartOptions, CloseOptions } from "./coordinator-api.js";

/**
 * Resumes interrupted workflows across processes without a workflow server: every worker runs
 * `resumeAll` (for example on start and then on an interval) against the same store. Claims are
 * compare-and-set saves with a lease, so each instance runs in one worker at a time; an instance
 * whose worker died is taken over once its lease expires, and one whose worker shut down with
 * `close()` at once.
 */
export function createRecoveryCoordinator(options: RecoveryCoordinatorOptions): RecoveryCoordinator {
  return new Coordinator(resolveCoordinatorOptions(options));
}

class Coordinator implements RecoveryCoordinator {
  readonly owner: string;
  readonly #options: ResolvedCoordinatorOptions;
  // Instances this coordinator is resuming now, so that two resumeAll loops never race each other.
  readonly #inFlight = new Map<string, Promise<RecoveryOutcome>>();
  // Passes under way: close() waits for them too, so that what they claimed and did not start is
  // given back before it resolves.
  readonly #passes = new Set<Promise<unknown>>();
  // Claims the passes made that wait for a lane (resume() of one must not run it beside the lane),
  // and the one a pass stopped waiting for, before which no other is sent.
  readonly #queues = new Set<QueuedClaims>();
  readonly #unanswered: UnansweredClaim;
  // The started loop's pass under way, when it claims: woken, its idle lanes claim again (see Lanes).
  #loopLanes: (() => void) | undefined;
  readonly #closing = new AbortController();
  #loop: WakeLoop | undefined;
  readonly #deadline = new AbortController();

  constructor(options: ResolvedCoordinatorOptions) {
    // Each attempt in progress listens to both: up to `concurrency` at once, per resumeAll loop.
    sharedSignal(this.#closing.signal);
    sharedSignal(this.#deadline.signal);
    this.#options = options;
    this.owner = options.persistence.owner;
    this.#unanswered = new UnansweredClaim(this.#closing.signal);
  }

  // Arguments are checked synchronously: misuse throws at the call, it does not become a rejection.
  resume(instanceId: string, workflowKey: string, options: RecoveryRunOptions = {}): Promise<RecoveryOutcome> {
    requireName(instanceId, "coordinator.resume(instanceId, workflowKey): instanceId");
    requireName(workflowKey, "coordinator.resume(instanceId, workflowKey): workflowKey");
    requireRunOptions(options, "coordinator.resume(instanceId, workflowKey, options): options");
    return this.#resumeOnce({ instanceId, workflowKey }, options.signal ?? neverAborted);
  }

  resumeAll(filter: SnapshotFilter = {}, options: RecoveryRunOptions = {}): Promise<RecoveryReport> {
    const where = "coordinator.resumeAll(filter, options)";
    requireFilter(filter, `${where}: filter`);
    requireRunOptions(options, `${where}: options`);
    return this.#tracked(this.#pass(filter, options, false));
  }

  #tracked(pass: Promise<RecoveryReport>): Promise<RecoveryReport> {
    this.#passes.add(pass);
    const forget = (): void => void this.#passes.delete(pass);
    pass.then(forget, forget);
    return pass;
  }

  async #pass(filter: SnapshotFilter, options: RecoveryRunOptions, fromLoop: boolean): Promise<RecoveryReport> {
    const signal = options.signal ?? neverAborted;
    const outcomes: RecoveryOutcome[] = [];
    if (this.#closing.signal.aborted) return reportOf(outcomes);
    // One unreadable record must not hold up the others: it is reported, once a pass (each page's
    // claim may meet it again), and left where it is.
    const unreadable = new Set<string>();
    const onUnreadable = (error: SnapshotCorruptedError): void => {
      const key = pairKey(error.keys);
      if (unreadable.has(key)) return;
      unreadable.add(key);
      outcomes.push(this.#options.report({ instanceId: error.keys.foundryExecutionId, workflowKey: error.keys.workflowId, status: "failed", error, attempts: 0, deadLettered: false }));
    };
    // Claims are by lease, not by age: a filter on updatedBefore lists.
    if (claimsOnRealTime(this.#options) && filter.updatedBefore === undefined) {
      await this.#claimAndRun(filter, signal, { onUnreadable }, outcomes, fromLoop);
      return reportOf(outcomes);
    }
    const { provider, leaseTtlMs } = this.#options;
    // Not bounded by the lease as a claim is: it reads every record, and takes as long as the store is large.
    const listed = await listSnapshots(provider, { status: unfinishedStatuses, ...filter }, signal, { onUnreadable });
    const snapshots = await dueSnapshots(provider, listed, this.#options.clock.now(), signal, leaseTtlMs, (snapshot, error) => {
      const ref = { instanceId: snapshot.foundryExecutionId, workflowKey: snapshot.workflowId };
      outcomes.push(this.#options.report({ ...ref, status: "failed", error: error instanceof Error ? error : new Error(String(error)), attempts: snapshot.attempts ?? 0, deadLettered: false }));
    });
    // Workers that list the same records start at different places, so they rarely race for one claim.
    const start = Math.floor(Math.random() * snapshots.length);
    snapshots.push(...snapshots.splice(0, start));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < snapshots.length && !this.#closing.signal.aborted) {
        const snapshot = snapshots[next++] as WorkflowExecutionSnapshot;
        outcomes.push(await this.#resumeOnce({ instanceId: snapshot.foundryExecutionId, workflowKey: snapshot.workflowId }, signal, snapshot));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#options.concurrency, snapshots.length) }, worker));
    return reportOf(outcomes);
  }

  /**
   * With a provider that claims in pages: `concurrency` lanes run what one `claim()` call returned,
   * and claim the next page (one call at a time) once the last one is taken, until a page comes back
   * empty. Records claimed but not started when the coordinator closes are given back, and so are
   * those that waited for a lane half their lease. The started loop's pass, woken while it runs,
   * claims again with the lanes that returned.
   */
  async #claimAndRun(filter: SnapshotFilter, signal: AbortSignal, listOptions: ListOptions, outcomes: RecoveryOutcome[], fromLoop: boolean): Promise<void> {
    const queue = new QueuedClaims(this.#options.provider, this.#options.leaseTtlMs);
    this.#queues.add(queue);
    let exhausted = false;
    let failure: { error: unknown } | undefined;
    let claiming: Promise<void> | undefined;
    const refill = (): Promise<void> =>
      (claiming ??= claimPageWithin(this.#options, filter, this.#options.concurrency, signal, listOptions, this.#unanswered)
        .then(
          (page) => void (page.length === 0 ? (exhausted = true) : queue.push(page)),
          (error: unknown) => void ((failure = { error }), (exhausted = true)),
        )
        .finally(() => (claiming = undefined)));
    const lane = async (): Promise<void> => {
      for (;;) {
        const claimed = queue.shift();
        if (this.#closing.signal.aborted || signal.aborted) {
          // A claimed record that will not start now (closing, or the caller's signal aborted) is given back at once.
          if (claimed !== undefined) outcomes.push(this.#options.report(await giveBackUnstarted(this.#options.provider, claimed, signal, this.#options.leaseTtlMs)));
          // A page still being claimed is awaited by the lane that asked for it, which gives it back.
          if (queue.length === 0) return;
        } else if (claimed !== undefined) {
          const { foundryExecutionId: instanceId, workflowId: workflowKey } = claimed.snapshot;
          outcomes.push(await this.#resumeOnce({ instanceId, workflowKey }, signal, claimed));
        } else if (exhausted) return;
        else await refill();
      }
    };
    const lanes = new Lanes(this.#options.concurrency, lane);
    const wider = (): void => {
      if (failure !== undefined || this.#closing.signal.aborted) return;
      exhausted = false;
      lanes.widen();
    };
    if (fromLoop) this.#loopLanes = wider;
    try {
      await lanes.settled();
    } finally {
      if (this.#loopLanes === wider) this.#loopLanes = undefined;
      this.#queues.delete(queue);
      await queue.close();
    }
    if (failure !== undefined) throw failure.error;
  }

  enqueue<W extends Workflow<any>>(workflow: W, options: EnqueueOptions<PropertiesOf<W>>, runOptions: RecoveryRunOptions = {}): Promise<InstanceRef> {
    requireRunOptions(runOptions, "coordinator.enqueue(workflow, options, runOptions): runOptions");
    return this.#store(enqueuedSnapshot(workflow, options), runOptions);
  }

  signal(instanceId: string, workflowKey: string, event: string, payload?: unknown, options?: SignalOptions): Promise<SignalResult> {
    return signalInstance(this.#options.provider, { instanceId, workflowKey }, event, payload, options, this.#options.clock).then((result) => {
      if (result.stored) this.#loop?.wake();
      return result;
    });
  }

  cancel(instanceId: string, workflowKey: string, options?: CancelOptions): Promise<CancelOutcome> {
    return cancelInstance(this.#options.provider, { instanceId, workflowKey }, options, this.#options.clock);
  }

  start(options: StartOptions = {}): void {
    const where = "coordinator.start(options)";
    rejectUnknownKeys(requireOptionsObject(options, where), ["pollIntervalMs", "filter", "onError"], where);
    const pollIntervalMs = options.pollIntervalMs === undefined ? 1_000 : requireTimerMs(options.pollIntervalMs, `${where}: options.pollIntervalMs`);
    if (options.onError !== undefined) requireFunction(options.onError, `${where}: options.onError`);
    if (options.filter !== undefined) requireFilter(options.filter, `${where}: options.filter`);
    if (this.#loop !== undefined || this.#closing.signal.aborted) throw new TypeError(`${where}: the coordinator was ${this.#loop === undefined ? "closed" : "started"} already`);
    const { provider } = this.#options;
    const subscribe = provider.capabilities?.push === true && provider.subscribe !== undefined ? provider.subscribe.bind(provider) : undefined;
    const pass = () => this.#tracked(this.#pass(options.filter ?? {}, {}, true));
    this.#loop = new WakeLoop({ pass, duringPass: () => this.#loopLanes?.(), pollIntervalMs, subscribe, onError: options.onError ?? (() => undefined) });
    this.#loop.start();
  }

  async close(options: CloseOptions = {}): Promise<void> {
    const where = "coordinator.close(options)";
    rejectUnknownKeys(requireOptionsObject(options, where), ["timeoutMs"], where);
    const timeoutMs = options.timeoutMs === undefined ? 10_000 : requireDelayMs(options.timeoutMs, `${where}: options.timeoutMs`);
    this.#closing.abort(new Error("the recovery coordinator is closing"));
    // The push subscription closes beside the runs, within timeoutMs: a hung one (a silent store) holds no shutdown longer.
    const loop = settlesWithin(this.#loop?.stop() ?? Promise.resolve(), timeoutMs);
    const running = Promise.all([...this.#inFlight.values(), ...[...this.#passes].map((pass) => pass.catch(() => undefined))]);
    if (await settlesWithin(running, timeoutMs)) return void (await loop);
    this.#deadline.abort(new Error(`the recovery coordinator closed: operations still running after ${timeoutMs} ms were aborted`));
    // An operation that ignores its signal cannot be waited for forever. Its run renews nothing after
    // the deadline, so its lease runs out, and the claim is lost to any save it tries (see lostClaimSettleMs).
    await Promise.all([settlesWithin(running, lostClaimSettleMs(this.#options.leaseTtlMs)), loop]);
  }

  #resumeOnce(ref: InstanceRef, signal: AbortSignal, found?: WorkflowExecutionSnapshot | ClaimedSnapshot): Promise<RecoveryOutcome> {
    const flightKey = pairKey(keysOf(ref));
    const running = this.#inFlight.get(flightKey);
    if (running !== undefined) {
      // A page holds an instance a run of this coordinator is still finishing: suspending at a wait
      // whose event made it due. The claim moved its revision, so that run lets go; skipping would
      // leave the claim's lease, and the attempt it counted, on a record nobody runs.
      const again = (): Promise<RecoveryOutcome> => this.#resumeOnce(ref, signal, found);
      if (found !== undefined && "claimedAt" in found) return running.then(again, again);
      return Promise.resolve(this.#options.report({ ...ref, status: "skipped", reason: "in-progress" }));
    }
    // Claimed by a pass and waiting for its lane: the lane runs it (or gives it back).
    const claimedHere = found === undefined || !("claimedAt" in found) ? [...this.#queues].some((queue) => queue.holds(keysOf(ref))) : false;
    if (claimedHere) return Promise.resolve(this.#options.report({ ...ref, status: "skipped", reason: "in-progress" }));
    const shutdown = { closing: this.#closing.signal, deadline: this.#deadline.signal };
    const outcome = resumeInstance(this.#options, shutdown, ref, signal, found)
      .then(this.#options.report)
      .finally(() => this.#inFlight.delete(flightKey));
    this.#inFlight.set(flightKey, outcome);
    return outcome;
  }

  async #store(draft: WorkflowExecutionSnapshot, runOptions: RecoveryRunOptions): Promise<InstanceRef> {
    const keys = { foundryExecutionId: draft.foundryExecutionId, workflowId: draft.workflowId };
    const stored = await loadSnapshot(this.#options.provider, keys, runOptions.signal);
    if (stored !== undefined && stored.status !== "completed") {
      throw new SnapshotConflictError({ keys, detail: `the instance already exists with status "${stored.status}"` });
    }
    // A kept `completed` record is replaced; its revision continues so compare-and-set holds, and
    // its consumed events stay consumed, as when forge() runs it again: its mailbox is still there.
    const consumed = stored?.consumedEvents === undefined ? {} : { consumedEvents: [...stored.consumedEvents] };
    const snapshot = { ...draft, ...consumed, revision: (stored?.revision ?? 0) + 1 };
    await callProvider({ call: "save", keys }, () => this.#options.provider.save(snapshot, runOptions.signal));
    return { instanceId: keys.foundryExecutionId, workflowKey: keys.workflowId };
  }
}
