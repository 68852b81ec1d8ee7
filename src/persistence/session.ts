import { abortError } from "../abort.js";
import { isWorkflowForgeError, preventsCompensation, type ErrorLocation } from "../errors.js";
import { stopsAnotherRun } from "../run-errors.js";
import { emitEvent, type Foundry } from "../foundry.js";
import type { OperationContext, RunContext, RunOutcome, RunStart, WorkflowInfo } from "../types.js";
import { copyOrShallow } from "./clone.js";
import { compensationCheckpoints } from "./compensation-checkpoints.js";
import { WorkflowCompensatedError, type SnapshotConflictError, type SnapshotKeys, type StoredError } from "./errors.js";
import { snapshotKeysOf } from "./keys.js";
import type { WorkflowPersistenceProvider } from "./provider.js";
import { restoreFrom } from "./restore-properties.js";
import { holdForRun } from "./held-here.js";
import { planResume } from "./resume.js";
import { OperationSignals } from "./operation-signals.js";
import { RunClaim } from "./run-claim.js";
import type { SessionOptions } from "./session-options.js";
import { storedError } from "./stored-error.js";
import type { SnapshotStatus, WorkflowExecutionSnapshot } from "./snapshot.js";
import { annotationsOf, completedIn, continueFrom, fingerprintFor, failedFrom, isoTime, leftUnfinished, resolvedIn, snapshotEvent, type SnapshotState } from "./snapshot-state.js";
import { SnapshotStore } from "./snapshot-store.js";
import { settled } from "../internal/thenable.js";
import { Timeline } from "./timeline.js";
import { DurableWaits, requireMailboxFor } from "./durable-waits.js";
import { SuspensionWrites } from "./suspension-writes.js";
import { logSafely } from "../logger.js";

/**
 * The persistence state of one run: opened once by the middleware's start hook, before the first
 * operation, then advanced by each checkpoint. The stored snapshot equals the last successful save.
 */
export class PersistenceSession {
  readonly keys: SnapshotKeys;

  readonly #options: SessionOptions;
  readonly #foundry: Foundry<any>;
  readonly #workflow: WorkflowInfo;
  readonly #state: SnapshotState;
  readonly #store: SnapshotStore;
  #claim: RunClaim | undefined;
  #operationSignals = new OperationSignals([]);
  #suspension: SuspensionWrites | undefined;

  private constructor(context: RunStart<any>, provider: WorkflowPersistenceProvider, options: SessionOptions) {
    const { foundry, run } = context;
    requireMailboxFor(run.workflow, provider); // before anything is loaded, claimed or run
    this.#options = options;
    this.#foundry = foundry;
    this.#workflow = run.workflow;
    this.keys = snapshotKeysOf(foundry, run.workflow, options);
    const [fingerprint, clock] = [fingerprintFor(run.workflow), options.clock ?? foundry.clock];
    this.#state = { keys: this.keys, workflow: run.workflow, fingerprint, options, revision: 0, next: 0, status: "running", outputs: {}, annotations: run.annotations, clock };
    this.#store = new SnapshotStore(provider, this.#state, options, foundry, context.signal);
    run.setIdentity({ instanceId: this.keys.foundryExecutionId, workflowKey: this.keys.workflowId });
  }

  /**
   * Loads (once, unless handed the snapshot), validates and adopts what is stored (telling the run
   * where it resumes), then claims the run when leasing.
   */
  static async open(context: RunStart<any>, provider: WorkflowPersistenceProvider, options: SessionOptions): Promise<PersistenceSession> {
    const session = new PersistenceSession(context, provider, options);
    holdForRun(context.run, session.keys, (outcome) => session.#settled(outcome), options.held);
    if (options.leaseTtlMs !== undefined) {
      const here = (): ErrorLocation => session.#locate(session.#state.next);
      session.#claim = RunClaim.start(session.keys, options.leaseTtlMs, {
        save: () => settled(() => session.#save(session.#state.status, here())),
        rewrite: (change, mode) => session.#store.rewrite(here(), change, mode),
        location: here,
        logger: session.#foundry.logger, deadline: options.deadline,
      });
      session.#store.guardWith(session.#claim);
    }
    // Fixed for the run: what every operation's signal is joined with, found once rather than per step.
    session.#operationSignals = new OperationSignals([session.#claim?.signal, options.deadline]);
    const stored = options.resumes ?? (await session.#store.load(undefined));
    await session.#adopt(stored, context.run);
    const state = session.#state;
    if (state.status === "completed") return session; // nothing runs, so nothing is claimed or written
    if (options.shutdown?.aborted === true) throw abortError(options.shutdown, session.#locate(state.next)); // a coordinator closing claims nothing more
    // A claim the coordinator made (claimedAt) is adopted: its attempt counted, nothing written.
    if (options.claimedAt === undefined && options.countsAttempts) state.attempts = (state.attempts ?? 0) + 1;
    await (options.claimedAt === undefined ? session.#claim?.claim() : session.#claim?.adopt(options.claimedAt));
    context.run.observeCompensation(
      compensationCheckpoints(state, session.#workflow, {
        saveCompensating: (pending) => settled(() => session.#save("compensating", session.#locate(pending))),
        // A cancelled instance keeps its record, as `cancelled`, once its compensation is done.
        remove: () => (state.cancelledAt === undefined ? session.#store.delete(session.#locate(0)) : settled(() => session.#save("cancelled", session.#locate(0)))),
      }),
    );
    if (session.#workflow.operations.some((operation) => operation.wait !== undefined)) context.run.provideWaits(session.#waits(provider));
    // A snapshot may say everything is done (a crash before the delete, or a migration): finishing must still clean up.
    if (state.status === "running" && state.next >= session.#workflow.operations.length) await session.#store.finish(session.#locate(state.next - 1));
    return session;
  }

  // The run settled. Its writes in flight land first (WritesInFlight). A record it resolved short of
  // finishing (leftUnfinished) is finished next, as the last checkpoint would have (SPEC §5.5; a failure
  // is logged). Then the store takes no more writes, the claim stops, and the caller's signal is let go.
  #settled(outcome: RunOutcome, finished = false): Promise<void> | undefined {
    const quiet = this.#store.quiet();
    if (quiet !== undefined) return quiet.then(() => this.#settled(outcome, finished));
    if (!finished && outcome.ok && this.#claim?.lost === undefined && leftUnfinished(this.#state)) {
      resolvedIn(this.#state, outcome.output);
      return this.#store.finishOwn(this.#locate(this.#state.next - 1)).catch((error: unknown) => logSafely(this.#foundry.logger, "warn", `could not finish the record of ${this.#workflow.name} once its run resolved`, error)).then(() => this.#settled(outcome, true));
    }
    this.#store.close();
    this.#operationSignals.close();
    return this.#claim?.close();
  }

  /** Operation `index` starts now (after {@link beforeOperation}). */
  started(index: number): void {
    this.#state.timeline?.started(index);
  }

  /** Set when another owner took this instance over: the run must stop. */
  get lost(): SnapshotConflictError | undefined {
    return this.#claim?.lost;
  }

  /** What the operation at `context` runs with: see {@link OperationSignals.contextFor}. */
  contextFor(context: OperationContext<any>): OperationContext<any> | undefined {
    return this.#operationSignals.contextFor(context);
  }

  /** Whether {@link beforeOperation} has anything to check: a lease, a coordinator that may close, a suspension stored. */
  get checksBeforeOperation(): boolean {
    return this.#claim !== undefined || this.#options.shutdown !== undefined || this.#suspension?.stopsOperations === true;
  }

  /**
   * Called before operation `index` starts: refuses to start it once the run gave its instance back
   * (a layer went on past a wait whose suspension was stored), or on a claim that may have been
   * taken over, and stops (releasing the claim) when the coordinator is shutting down.
   */
  async beforeOperation(index: number): Promise<void> {
    const suspended = this.#suspension?.stopsOperations === true ? await this.#suspension.stopsRun() : undefined;
    if (suspended !== undefined) throw suspended;
    this.#claim?.assertLive();
    const shutdown = this.#options.shutdown;
    if (shutdown?.aborted === true) await this.stopForShutdown(shutdown, index);
  }

  /** Gives the claim back ({@link RunClaim.release}: with the annotations once `index` `started`), then throws the abort that ends the run. */
  async stopForShutdown(reason: AbortSignal, index: number, started = false): Promise<never> {
    await this.#claim?.release(started ? annotationsOf(this.#state) : undefined);
    throw abortError(reason, this.#locate(index));
  }

  /** Set once the shutdown deadline aborted the running operation. */
  get deadlinePassed(): AbortSignal | undefined {
    return this.#options.deadline?.aborted === true ? this.#options.deadline : undefined;
  }

  /**
   * Checkpoint after operation `index` completed: the barrier before the next operation. Undefined
   * when it is stored already (a provider that stores synchronously), else a promise of it.
   */
  completed(context: OperationContext<any>, result: unknown): Promise<unknown> | undefined {
    // Read once (it costs as much as the rest of the timeline): the operation ended, the next starts, the checkpoint is made.
    const now = Date.now();
    completedIn(this.#state, context, result, now);
    const location = this.#locate(context.index);
    const last = this.#state.next >= this.#workflow.operations.length;
    const keep = this.#options.onComplete === "keep";
    // The last operation is checkpointed too (SPEC §5.2: N saves, then the delete), so a crash
    // before the delete resumes by skipping everything instead of running the last operation again.
    const saving = this.#save(last && keep ? "completed" : "running", location, { now, asker: context.signal });
    if (!last || keep) return saving;
    // Not once a timeout gave up on the operation: the run moved on (a run that resolves anyway finishes the record as it settles).
    return saving === undefined ? this.#store.delete(location, context.signal) : saving.then(() => (context.signal.aborted ? undefined : this.#store.delete(location, context.signal)));
  }

  /**
   * Records the failure of operation `index` so the next run re-executes it, from the properties of
   * the last checkpoint (SPEC §5.6): the operation's half-done changes are never stored.
   */
  async failed(context: OperationContext<any>, error: unknown): Promise<void> {
    // Another run's timeout or conflict, from a workflow forged in the operation, is this operation's failure.
    if (!this.#options.persistOnFailure || context.signal.aborted || (preventsCompensation(error) && !stopsAnotherRun(error, context.run.identity))) return;
    const location = this.#locate(context.index);
    this.#state.timeline?.finished(context.index);
    try {
      const failure = storedError(error, context.index, context.operation.name);
      if (this.#state.startProperties !== undefined) {
        // Nothing of this run is stored yet: whatever is (a completed or replaced record) is not its checkpoint.
        await this.#save("failed", location, { error: failure, properties: this.#state.startProperties, asker: context.signal });
      } else {
        await this.#store.rewrite(location, (stored) => failedFrom(stored, failure, this.#state), "checkpoint", context.signal);
      }
      this.#state.status = "failed";
      this.#state.error = failure;
    } catch (saveError) {
      // Another process owns the instance now: that, not the operation's error, is what matters.
      if (isWorkflowForgeError(saveError) && saveError.code === "SNAPSHOT_CONFLICT") throw saveError;
      // Otherwise (a failed save, an unstorable error) the caller sees the operation's error; the last checkpoint resumes here.
      logSafely(this.#foundry.logger, "warn", `could not record the failure of ${this.#workflow.name} #${context.index}`, saveError);
    }
  }

  async #adopt(stored: WorkflowExecutionSnapshot | undefined, run: RunContext): Promise<void> {
    const state = this.#state;
    const count = this.#workflow.operations.length;
    const plan = await planResume(stored, { keys: this.keys, workflow: this.#workflow, fingerprint: state.fingerprint, options: this.#options });
    state.revision = plan.revision;
    // Events stay consumed when a run starts over (a kept completed record run again, a restart): each is consumed once per instance.
    if (plan.kind === "fresh" && stored?.consumedEvents !== undefined) state.consumedEvents = [...stored.consumedEvents];
    if (plan.kind === "fresh") {
      const now = state.clock.now();
      state.createdAt = isoTime(now);
      state.timeline = Timeline.of(count, now);
      // A leased run stores its claim before any operation, and a failure then rewrites that record; not a claim adopted (claimedAt), which wrote the record it found.
      if (this.#options.persistOnFailure && (this.#options.leaseTtlMs === undefined || this.#options.claimedAt !== undefined)) state.startProperties = copyOrShallow(this.#foundry.properties as Record<string, unknown>);
      return;
    }
    const { snapshot } = plan;
    continueFrom(state, snapshot);
    restoreFrom(this.#foundry, snapshot); // a compensation's restores see them too
    for (const [key, value] of Object.entries(snapshot.annotations ?? {})) run.annotations.set(key, value);
    if (plan.kind === "compensate") {
      state.status = "compensating";
      run.resumeCompensation(snapshot.nextOperationIndex, new WorkflowCompensatedError(this.keys, this.#workflow.name, snapshot.error), state.outputs);
    } else {
      if (plan.kind === "done") state.status = "completed";
      // Migrated: the stored record is the old definition's until the first checkpoint, so a failure before it is saved from this state, not rewritten over that record.
      if (snapshot !== stored && this.#options.persistOnFailure) state.startProperties = copyOrShallow(this.#foundry.properties as Record<string, unknown>);
      // A waiting record claimed here is stored running: left waiting, the claim having cleared a delivery's mark, a crash at the wait strands it.
      run.resumeAt(plan.kind === "done" ? count : snapshot.nextOperationIndex, { lastOutput: state.lastOutput, restoreData: state.outputs });
    }
    this.#foundry[emitEvent]("snapshotRestored", snapshotEvent, snapshot); // a resumed compensation too: its restores see the properties
  }

  // The run's wait host: its suspensions and reclaims are this run's fenced writes.
  #waits(provider: WorkflowPersistenceProvider): DurableWaits {
    const [state, options] = [this.#state, this.#options];
    const location = (): ErrorLocation => this.#locate(state.next);
    const settings = { keys: this.keys, workflow: this.#workflow, provider, clock: state.clock, waitInProcessMs: options.waitInProcessMs, leaseTtlMs: options.leaseTtlMs };
    const properties = (): Record<string, unknown> => this.#foundry.properties as Record<string, unknown>;
    const saveRunning = (asker: AbortSignal): Promise<unknown> | undefined => this.#save("running", location(), { asker });
    this.#suspension = new SuspensionWrites({ state, store: this.#store, claim: this.#claim, countsAttempts: options.countsAttempts, properties, location, saveRunning });
    return new DurableWaits(settings, state, this.#suspension);
  }

  // Undefined when the provider stored the snapshot synchronously: a step then waits no turn.
  #save(status: SnapshotStatus, location: ErrorLocation, { error, properties, now = Date.now(), asker }: SaveDetails = {}): Promise<unknown> | undefined {
    // The operation this checkpoint lets start counts as started: re-executed after a crash, it counts twice.
    if (status === "running") this.#state.timeline?.announce(this.#state.next, now);
    return this.#store.checkpoint(status, properties ?? (this.#foundry.properties as Record<string, unknown>), error, location, now, asker);
  }

  #locate(index: number): ErrorLocation {
    return { workflowName: this.#workflow.name, operationName: this.#workflow.operations[index]?.name, operationIndex: index };
  }
}

/** What a checkpoint stores besides its status: the run's error and properties unless given, at `now`, asked for by `asker`'s operation. */
type SaveDetails = Readonly<{ error?: StoredError | undefined; properties?: Record<string, unknown> | undefined; now?: number; asker?: AbortSignal }>;
