import type { Clock } from "../clock.js";
import { WaitTimeoutError, WorkflowSuspendedError, isWorkflowForgeError, type ErrorLocation } from "../errors.js";
import type { WorkflowInfo } from "../types.js";
import type { WaitHost, WaitRequest, WaitSpec } from "../waits.js";
import { encodeValue } from "./codec/codec.js";
import type { SnapshotKeys } from "./errors.js";
import { pendingEvent, receivesEvents, type DeliveredEvent, type ReceivingProvider } from "./mailbox.js";
import { explainConflict } from "./cancellation.js";
import type { WorkflowPersistenceProvider } from "./provider.js";
import { isoTime, type SnapshotState } from "./snapshot-state.js";
import { answeredWithin } from "./recovery/bounded-wait.js";

/** How a suspension reaches the store: through the session's fenced writes. */
export interface WaitWrites {
  /**
   * Saves the state as `waiting` with no lease: the claim (and the attempt it counted) goes back.
   * `asker` is the wait's signal: once it aborted, nothing is sent (the run went on without the wait).
   */
  suspend(asker: AbortSignal): Promise<void>;
  /** Takes the instance back by compare-and-set on what `suspend` stored, to go on in this process; `asker` as for `suspend`. */
  reclaim(asker: AbortSignal): Promise<void>;
}

export interface WaitSettings {
  readonly keys: SnapshotKeys;
  readonly workflow: WorkflowInfo;
  readonly provider: WorkflowPersistenceProvider;
  readonly clock: Clock;
  readonly waitInProcessMs: number;
  /** Bounds the mailbox reads and the load that explains a lost claim, as the run's lease does (undefined: no lease). */
  readonly leaseTtlMs?: number | undefined;
}

/**
 * A persisted run's waits. The wake time is fixed when a wait is first reached and stored with the
 * run's state, so a resumed run waits only for what is left. A wait that cannot end soon suspends
 * the run: stored `waiting`, claim given back, `WorkflowSuspendedError`.
 *
 * No lost wake-up: after the waiting save, the mailbox is read once more. A delivery that landed
 * before that save is seen there; one that lands after it finds the record waiting and marks it
 * due for the coordinators. Either way the event is consumed, once: by this run (which takes the
 * instance back by compare-and-set first) or by the worker that claims it.
 */
export class DurableWaits implements WaitHost {
  readonly #settings: WaitSettings;
  readonly #state: SnapshotState;
  readonly #writes: WaitWrites;

  constructor(settings: WaitSettings, state: SnapshotState, writes: WaitWrites) {
    this.#settings = settings;
    this.#state = state;
    this.#writes = writes;
  }

  async wait({ index, spec, input, signal }: WaitRequest): Promise<unknown> {
    const location = this.#locate(index);
    const wakeMs = this.#fix(spec);
    if (spec.kind === "event") {
      const event = await this.#receive(spec.event, signal, location, wakeMs);
      if (event !== undefined) return this.#consume(event);
      if (this.#timedOut(wakeMs)) throw new WaitTimeoutError(location, spec.event, spec.timeoutMs ?? 0);
    } else {
      const left = (wakeMs as number) - this.#settings.clock.now();
      if (left <= 0) return input;
      if (left <= this.#settings.waitInProcessMs) {
        await this.#settings.clock.sleep(left, signal);
        return input;
      }
    }
    // At operation 0 no checkpoint holds the run's input, which a sleep outputs: the waiting save
    // keeps it, for the run that wakes the instance (a coordinator's, which has no input of its own).
    // An input that cannot be stored (a client, a class instance: judged by the default codec, so
    // also one a custom codec would store) never had to be: the run still suspends, and a run that
    // wakes it passes on its own input, as before.
    if (index === 0 && spec.kind !== "event" && storable(input)) this.#state.lastOutput = input;
    return this.#suspend(spec, signal, location, wakeMs);
  }

  // The wake time (epoch ms) of the wait at `next`: stored when a run reached it before, else fixed now.
  // Stored fields are reused only when they are this wait's: a wait changed in place keeps the
  // fingerprint (operation names), and a sleep must not inherit an old event wait's (no wake time),
  // nor an event wait that gained or lost its timeout the old one's wake time or lack of it.
  #fix(spec: WaitSpec): number | undefined {
    const state = this.#state;
    const stored =
      spec.kind === "event"
        ? state.waitingFor === spec.event && (state.wakeAt === undefined) === (spec.timeoutMs === undefined)
        : state.waitingFor === undefined && state.wakeAt !== undefined;
    if (stored) return state.wakeAt === undefined ? undefined : Date.parse(state.wakeAt);
    const now = this.#settings.clock.now();
    const wakeMs = spec.kind === "sleep" ? now + spec.ms : spec.kind === "until" ? spec.at : spec.timeoutMs === undefined ? undefined : now + spec.timeoutMs;
    state.wakeAt = wakeMs === undefined ? undefined : isoTime(wakeMs);
    state.waitingFor = spec.kind === "event" ? spec.event : undefined;
    return wakeMs;
  }

  async #suspend(spec: WaitSpec, signal: AbortSignal, location: ErrorLocation, wakeMs: number | undefined): Promise<unknown> {
    // A cancellation stored while the run reached its wait refuses the waiting save: its caller must hear the cancellation.
    await this.#writes.suspend(signal).catch(async (error: unknown) => {
      throw await this.#explain(error, location);
    });
    if (spec.kind === "event") {
      // None in time once the waiting save outlasted the timeout: the worker that wakes the run times it out.
      const event = await this.#receive(spec.event, signal, location, wakeMs);
      if (event !== undefined) {
        try {
          await this.#writes.reclaim(signal);
        } catch (error) {
          if (!(isWorkflowForgeError(error) && error.code === "SNAPSHOT_CONFLICT")) throw error;
          // A coordinator claimed the instance first (the delivery, or the waiting save, marked it due): it goes on there.
          // Or a cancellation took it: that is what this run's caller must hear.
          const explained = await this.#explain(error, location);
          throw isWorkflowForgeError(explained) && explained.code === "WORKFLOW_CANCELLED" ? explained : this.#suspended(location);
        }
        return this.#consume(event);
      }
    }
    throw this.#suspended(location);
  }

  // A conflict at a save of this wait as the store explains it: the cancellation, when it was one.
  #explain(error: unknown, location: ErrorLocation): Promise<unknown> {
    const { provider, keys, leaseTtlMs } = this.#settings;
    return explainConflict(provider, keys, error, location, leaseTtlMs);
  }

  #suspended(location: ErrorLocation): WorkflowSuspendedError {
    const { keys } = this.#settings;
    const { wakeAt, waitingFor } = this.#state;
    return new WorkflowSuspendedError({ ...location, instanceId: keys.foundryExecutionId, workflowKey: keys.workflowId, wakeAt: wakeAt === undefined ? undefined : new Date(wakeAt), waitingFor });
  }

  // The first unconsumed event in time for the wait waking at `wakeMs`: a late one stored before an
  // in-time one must not hide it (requireMailboxFor checked, as the run started, that the provider
  // receives events). A leased run gives the read at most one lease: it must settle within about
  // one even when the store hangs (after the waiting save no lease keeper guards it). Failing, the
  // run fails as on any store error.
  #receive(name: string, signal: AbortSignal, location: ErrorLocation, wakeMs: number | undefined): Promise<DeliveredEvent | undefined> {
    const { provider, keys, leaseTtlMs } = this.#settings;
    const inTime = (event: DeliveredEvent): boolean => this.#inTime(event, wakeMs);
    const receiving = pendingEvent(provider as ReceivingProvider, keys, name, this.#state.consumedEvents, signal, location, inTime);
    return leaseTtlMs === undefined ? receiving : answeredWithin(receiving, leaseTtlMs, "receive", keys, location);
  }

  #timedOut(wakeMs: number | undefined): boolean {
    return wakeMs !== undefined && wakeMs <= this.#settings.clock.now();
  }

  // Once the timeout passed, an event sent after it is not received: the wait timed out first, even
  // when no worker had looked since, so the outcome does not depend on when one polled. Before it
  // passed, any event is (a sender whose clock runs ahead must not be ignored).
  #inTime(event: DeliveredEvent, wakeMs: number | undefined): boolean {
    return !this.#timedOut(wakeMs) || Date.parse(event.sentAt) <= (wakeMs as number);
  }

  // The event is this wait's output; the checkpoint that follows stores it as consumed.
  #consume(event: DeliveredEvent): unknown {
    (this.#state.consumedEvents ??= []).push(event.eventId);
    return event.payload;
  }

  #locate(index: number): ErrorLocation {
    const { workflow } = this.#settings;
    return { workflowName: workflow.name, operationName: workflow.operations[index]?.name, operationIndex: index };
  }
}

/**
 * Throws `TypeError` naming the first event wait of `workflow` when `provider` keeps no events: as
 * the run starts, before anything is loaded, claimed or run, rather than at the wait, after the
 * operations before it ran.
 */
export function requireMailboxFor(workflow: Pick<WorkflowInfo, "name" | "operations">, provider: WorkflowPersistenceProvider): void {
  const wait = workflow.operations.find((operation) => operation.wait?.kind === "event");
  if (wait === undefined || receivesEvents(provider)) return;
  throw new TypeError(`waitForEvent "${wait.name}" of ${workflow.name}: the persistence provider does not declare capabilities.mailbox, so no event could reach this wait`);
}

// Whether the snapshot codec stores `value` as it is (its checks, without a custom codec's leniency).
function storable(value: unknown): boolean {
  try {
    encodeValue(value);
    return true;
  } catch {
    return false;
  }
}
