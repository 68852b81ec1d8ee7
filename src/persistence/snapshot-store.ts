import { abortError } from "../abort.js";
import type { ErrorLocation } from "../errors.js";
import { systemClock } from "../clock.js";
import { emitEvent, type Foundry } from "../foundry.js";
import { describeKeys, SnapshotConflictError, type ProviderCall, type SnapshotKeys, type StoredError } from "./errors.js";
import type { SnapshotDeletedEvent } from "./events.js";
import { callProvider, loadSnapshot, providerError, storedAlready } from "./provider-call.js";
import type { WorkflowPersistenceProvider } from "./provider.js";
import type { RunClaim } from "./run-claim.js";
import type { SessionOptions } from "./session-options.js";
import type { SnapshotStatus, WorkflowExecutionSnapshot } from "./snapshot.js";
import { isoTime, snapshotEvent, snapshotOf, type SnapshotState } from "./snapshot-state.js";
import { isThenable } from "../internal/thenable.js";
import { logSafely } from "../logger.js";
import { WritesInFlight } from "./writes-in-flight.js";

type Build = () => WorkflowExecutionSnapshot | undefined | Promise<WorkflowExecutionSnapshot | undefined>;

/**
 * Who writes outside a checkpoint: a lease renewal (already sequenced by the lease keeper), or the
 * release of a claim at shutdown (which must still reach the store after the run was aborted).
 */
export type WriteMode = "checkpoint" | "renewal" | "release";

/**
 * One run's reads and writes of its snapshot: every provider call goes through here, so that each
 * is wrapped in the run's typed errors, guarded by the claim when leasing (a store that hangs cannot
 * hold the run past its lease), sequenced with the lease's renewals, and reported as an event.
 */
export class SnapshotStore {
  readonly #provider: WorkflowPersistenceProvider;
  readonly #state: SnapshotState;
  readonly #options: SessionOptions;
  readonly #foundry: Foundry<any>;
  #claim: RunClaim | undefined;
  #signal: AbortSignal;
  // The claim's signal alone: a release is sent after the run's own signal aborted.
  #releaseSignal: AbortSignal | undefined;
  // Under a lease each write counted is the claim's guarded call, which settles by the lease's end
  // even when the store hangs.
  readonly #writes = new WritesInFlight();

  constructor(provider: WorkflowPersistenceProvider, state: SnapshotState, options: SessionOptions, foundry: Foundry<any>, signal: AbortSignal) {
    this.#provider = provider;
    this.#state = state;
    this.#options = options;
    this.#foundry = foundry;
    this.#signal = signal;
  }

  /** From now on every call is guarded by `claim`, and providers see its signal too. */
  guardWith(claim: RunClaim): void {
    this.#claim = claim;
    this.#releaseSignal = claim.signal;
    this.#signal = claim.signalFor(this.#signal);
  }

  load(location: ErrorLocation | undefined, mode: WriteMode = "checkpoint"): Promise<WorkflowExecutionSnapshot | undefined> {
    return this.#guard(loadSnapshot(this.#provider, this.#state.keys, this.#signalFor(mode), location));
  }

  /**
   * Saves what `build` returns (nothing when it returns undefined) as the next revision. A renewal
   * is already sequenced by the lease keeper; every other write first waits for the writes in flight
   * (WritesInFlight), then for renewals, and only then builds its snapshot, so that it continues the
   * revision they stored. It counts as in flight from then: a load or a renewal it waits for included.
   * `asker` is the signal of the operation that asks for the write: once aborted, nothing is sent.
   */
  async write(build: Build, location: ErrorLocation, mode: WriteMode = "checkpoint", asker?: AbortSignal): Promise<boolean> {
    const claim = mode === "renewal" ? undefined : this.#claim;
    const signal = this.#signalFor(mode);
    // Awaited only when there is something to wait for: each await is a turn of the microtask queue.
    const turn = this.#turn(location, mode, asker);
    if (turn !== undefined) await turn;
    let saved = false;
    let snapshot: WorkflowExecutionSnapshot | undefined;
    try {
      const renewal = claim?.beforeSave();
      if (renewal !== undefined) await renewal;
      try {
        const built = build();
        snapshot = built instanceof Promise ? await built : built;
        if (snapshot === undefined) return false;
        const written = snapshot;
        await this.#call("save", location, () => this.#provider.save(written, signal));
        saved = true;
      } finally {
        claim?.afterSave(saved);
      }
    } finally {
      this.#writes.sent();
    }
    this.#saved(snapshot);
    return true;
  }

  /**
   * A checkpoint: {@link write} of the run's state at `now`, as `status` ({@link snapshotOf}), which
   * becomes the state's status once stored. Undefined once stored, when the provider stored it
   * synchronously, so that the run goes on without waiting a turn of the microtask queue; else a
   * promise that settles as {@link write}'s does. `asker` as for {@link write}.
   */
  checkpoint(status: SnapshotStatus, properties: object, error: StoredError | undefined, location: ErrorLocation, now: number, asker?: AbortSignal): Promise<unknown> | undefined {
    if (this.#claim !== undefined) return this.write(() => snapshotOf(this.#state, status, properties, error), location, "checkpoint", asker).then(() => this.#checkpointed(status));
    // A write a timeout gave up on may still be landing (WritesInFlight): this one continues its revision.
    const turn = this.#turn(location, "checkpoint", asker);
    if (turn !== undefined) return turn.then(() => this.#checkpointNow(status, properties, error, location, now));
    return this.#checkpointNow(status, properties, error, location, now);
  }

  // The unleased checkpoint, counted in flight already: whatever throws counts it settled, and a
  // snapshot that could not be made (the run's clock, its properties) is no failure of the provider.
  #checkpointNow(status: SnapshotStatus, properties: object, error: StoredError | undefined, location: ErrorLocation, now: number): Promise<unknown> | undefined {
    const { clock } = this.#state;
    let snapshot: WorkflowExecutionSnapshot | undefined;
    let saving: unknown;
    try {
      // `now` is Date.now() read by the caller: the snapshot's time too, unless the run has a clock of its own.
      snapshot = snapshotOf(this.#state, status, properties, error, clock === systemClock ? now : clock.now());
      saving = this.#provider.save(snapshot, this.#signal);
    } catch (cause) {
      this.#writes.sent();
      throw snapshot === undefined ? cause : providerError({ call: "save", keys: this.#state.keys, location }, cause);
    }
    if (saving !== storedAlready && isThenable(saving)) return this.#stored(saving, snapshot, location);
    this.#writes.sent();
    this.#saved(snapshot);
    this.#checkpointed(status);
    return undefined;
  }

  async #stored(saving: PromiseLike<unknown>, snapshot: WorkflowExecutionSnapshot, location: ErrorLocation): Promise<void> {
    try {
      await saving;
    } catch (cause) {
      throw providerError({ call: "save", keys: this.#state.keys, location }, cause);
    } finally {
      this.#writes.sent();
    }
    this.#saved(snapshot);
    this.#checkpointed(snapshot.status);
  }

  #checkpointed(status: SnapshotStatus): void {
    this.#state.startProperties = undefined;
    this.#state.status = status;
    if (status === "completed") void this.#claim?.stopRenewing();
  }

  #saved(snapshot: WorkflowExecutionSnapshot): void {
    this.#state.revision = snapshot.revision;
    this.#foundry[emitEvent]("snapshotSaved", snapshotEvent, snapshot);
  }

  /**
   * Stores what the last checkpoint stored, changed by `change` (loaded back, so a half-finished
   * operation's changes to the properties are never written), as the next revision. Refused with
   * SnapshotConflictError when the stored revision (or, under a lease, its owner) moved.
   */
  rewrite(location: ErrorLocation, change: (stored: WorkflowExecutionSnapshot) => WorkflowExecutionSnapshot | undefined, mode: WriteMode = "checkpoint", asker?: AbortSignal): Promise<boolean> {
    return this.write(
      async () => {
        const stored = await this.load(location, mode);
        const { revision, keys } = this.#state;
        if (stored === undefined || !this.#owns(stored)) {
          const found = stored === undefined ? "no snapshot" : `revision ${stored.revision} of owner "${stored.owner ?? "none"}"`;
          throw new SnapshotConflictError({ keys, location, detail: `the claim was lost: found ${found}, this run saved revision ${revision}` });
        }
        const changed = change(stored);
        if (changed === undefined) return undefined;
        const now = this.#state.clock.now();
        const next: Record<string, unknown> = { ...changed, revision: revision + 1, updatedAt: isoTime(now) };
        // Leases are real time whatever the clock (see snapshotOf).
        if (this.#options.leaseTtlMs !== undefined && next.leaseExpiresAt !== undefined) next.leaseExpiresAt = isoTime(Date.now() + this.#options.leaseTtlMs);
        return next as unknown as WorkflowExecutionSnapshot;
      },
      location,
      mode,
      asker,
    );
  }

  async delete(location: ErrorLocation, asker?: AbortSignal): Promise<void> {
    const { foundryExecutionId, workflowId } = this.#state.keys;
    const turn = this.#turn(location, "checkpoint", asker);
    if (turn !== undefined) await turn;
    try {
      const claim = this.#claim;
      if (claim !== undefined) {
        const renewal = claim.beforeSave();
        if (renewal !== undefined) await renewal;
        void claim.stopRenewing();
        claim.afterSave(false);
      }
      await this.#call("delete", location, () => this.#provider.delete(foundryExecutionId, workflowId, this.#signal));
    } finally {
      this.#writes.sent();
    }
    this.#state.revision = 0;
    this.#foundry[emitEvent]("snapshotDeleted", deletedEvent, this.#state.keys);
  }

  /** Ends the record as the checkpoint after the last operation does (SPEC §5.5): deleted, or kept `completed`. */
  async finish(location: ErrorLocation): Promise<void> {
    if (this.#options.onComplete === "keep") await this.checkpoint("completed", this.#foundry.properties as object, undefined, location, Date.now());
    else await this.delete(location);
  }

  /**
   * {@link finish}, only while the stored record is the one this run saved last. A run may resolve
   * past a write that was refused (a layer that swallowed the SnapshotConflictError): the record is
   * then another owner's, and left to it.
   */
  async finishOwn(location: ErrorLocation): Promise<void> {
    // A renewal in flight lands first: it moves the revision this run saved last.
    await this.#claim?.stopRenewing();
    const stored = await this.load(location);
    if (stored !== undefined && this.#owns(stored)) return this.finish(location);
    if (stored !== undefined) logSafely(this.#foundry.logger, "warn", `left the record of ${describeKeys(this.#state.keys)} as it is: another owner wrote revision ${stored.revision} after this run's revision ${this.#state.revision}`);
  }

  /** Undefined when no save or delete of the run is in flight; else resolves once none is. */
  quiet(): Promise<void> | undefined {
    return this.#writes.none();
  }

  /** The run settled: a write asked for from now on is refused with SnapshotConflictError (see WritesInFlight). */
  close(): void {
    this.#writes.close();
  }

  // A write's turn (WritesInFlight.turn); a renewal, sequenced by the lease keeper, takes none and is counted at once.
  #turn(location: ErrorLocation, mode: WriteMode, asker?: AbortSignal): Promise<void> | undefined {
    const settledDetail = "the run settled before this write was asked for (a timeout gave up on the operation that asked): nothing more is written for it";
    const refused = (): Error => (asker?.aborted === true ? abortError(asker, location) : new SnapshotConflictError({ keys: this.#state.keys, location, detail: settledDetail }));
    if (mode !== "renewal") return this.#writes.turn(refused, asker);
    this.#writes.sending(refused);
    return undefined;
  }

  // Whether `stored` is this run's last save: its revision, and under a lease its owner.
  #owns(stored: WorkflowExecutionSnapshot): boolean {
    return stored.revision === this.#state.revision && (this.#claim === undefined || stored.owner === this.#options.owner);
  }

  #signalFor(mode: WriteMode): AbortSignal {
    return mode === "release" && this.#releaseSignal !== undefined ? this.#releaseSignal : this.#signal;
  }

  #call<T>(call: ProviderCall, location: ErrorLocation | undefined, invoke: () => T | Promise<T>): Promise<T> {
    return this.#guard(callProvider({ call, keys: this.#state.keys, location }, invoke));
  }

  #guard<T>(work: Promise<T>): Promise<T> {
    return this.#claim === undefined ? work : this.#claim.guard(work);
  }
}

const deletedEvent = ({ foundryExecutionId, workflowId }: SnapshotKeys): SnapshotDeletedEvent => ({ foundryExecutionId, workflowId });
