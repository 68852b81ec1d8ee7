import { isWorkflowForgeError, preventsCompensation, type ErrorLocation } from "../errors.js";
import type { Foundry } from "../foundry.js";
import { outputOf, restoreDataOf, resumeCompensation, skipOperation, type ResumeCompensation, type SkipOperation } from "../outcome.js";
import type { CompensationObserver, OperationContext, WorkflowInfo } from "../types.js";
import {
  SnapshotConflictError,
  describeKeys,
  WorkflowCompensatedError,
  WorkflowDefinitionMismatchError,
  type ProviderCall,
  type SnapshotKeys,
  type StoredError,
} from "./errors.js";
import { describeClaim, holdInstance, isClaimedByOther } from "./claim.js";
import { snapshotKeysOf } from "./keys.js";
import { callProvider, loadSnapshot } from "./provider-call.js";
import { LeaseKeeper } from "./lease.js";
import type { ResolvedPersistenceOptions } from "./options.js";
import type { WorkflowPersistenceProvider } from "./provider.js";
import { restoreProperties } from "./restore-properties.js";
import { storedError } from "./stored-error.js";
import { fingerprintOf, validateSnapshot, type SnapshotStatus, type WorkflowExecutionSnapshot } from "./snapshot.js";

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The persistence state of one run: loaded once before the first operation, then advanced by each
 * checkpoint. The stored snapshot always equals the last successful save.
 */
export class PersistenceSession {
  readonly keys: SnapshotKeys;
  /** Operations `[0, resumeFrom)` completed in an earlier run and are skipped. */
  resumeFrom = 0;
  /** Set when an earlier run stopped mid-compensation: this run finishes it instead. */
  resumeCompensation: ResumeCompensation | undefined;

  readonly #provider: WorkflowPersistenceProvider;
  readonly #options: ResolvedPersistenceOptions;
  readonly #foundry: Foundry<any>;
  readonly #workflow: WorkflowInfo;
  readonly #fingerprint: string;
  readonly #signal: AbortSignal;
  #revision = 0;
  #createdAt: string | undefined;
  #next = 0;
  #status: SnapshotStatus = "running";
  #lastOutput: unknown;
  #outputs: Record<number, unknown> = {};
  #error: StoredError | undefined;
  #attempts: number | undefined;
  #lease: LeaseKeeper | undefined;

  private constructor(context: OperationContext<any>, provider: WorkflowPersistenceProvider, options: ResolvedPersistenceOptions) {
    const { foundry, run } = context;
    this.#provider = provider;
    this.#options = options;
    this.#foundry = foundry;
    this.#workflow = run.workflow;
    this.#signal = context.signal;
    this.#fingerprint = fingerprintOf(run.workflow);
    this.keys = snapshotKeysOf(foundry, run.workflow, options);
    run.identity = { instanceId: this.keys.foundryExecutionId, workflowKey: this.keys.workflowId };
  }

  /** Loads (once), validates and adopts the stored snapshot, then claims the run when leasing. */
  static async open(context: OperationContext<any>, provider: WorkflowPersistenceProvider, options: ResolvedPersistenceOptions): Promise<PersistenceSession> {
    const session = new PersistenceSession(context, provider, options);
    if (options.leaseTtlMs !== undefined) session.#holdHere(context);
    const stored = await loadSnapshot(provider, session.keys, session.#signal);
    if (stored !== undefined) await session.#adopt(stored);
    if (options.countsAttempts) session.#attempts = (session.#attempts ?? 0) + 1;
    if (options.leaseTtlMs !== undefined) await session.#claim(context, options.leaseTtlMs);
    context.run.observeCompensation(session.#compensationObserver());
    return session;
  }

  /** Set when another owner took this instance over: the run must stop. */
  get lost(): SnapshotConflictError | undefined {
    return this.#lease?.lost;
  }

  /** What the operation at `context` runs with: under a lease, a context whose signal also aborts when the claim is lost. */
  contextFor(context: OperationContext<any>): OperationContext<any> | undefined {
    return this.#lease === undefined ? undefined : { ...context, signal: this.#lease.signalFor(context.signal) };
  }

  /** The marker that skips operation `index`, which an earlier run completed. */
  async skip(index: number): Promise<SkipOperation> {
    const output = index === this.resumeFrom - 1 ? this.#lastOutput : undefined;
    const marker = skipOperation(output, this.#outputs[index]);
    // A snapshot may say everything is done (a migration can); finishing must still clean up.
    if (index === this.#workflow.operations.length - 1) await this.#finish(this.#locate(index));
    return marker;
  }

  /** Checkpoint after operation `index` completed: the barrier before the next operation. */
  async completed(context: OperationContext<any>, result: unknown): Promise<void> {
    if (context.operation.restore !== undefined) this.#outputs[context.index] = restoreDataOf(result);
    this.#lastOutput = outputOf(result);
    this.#next = context.index + 1;
    const location = this.#locate(context.index);
    const last = this.#next >= this.#workflow.operations.length;
    const keep = this.#options.onComplete === "keep";
    // The last operation is checkpointed too (SPEC §5.2: N saves, then the delete), so a crash
    // before the delete resumes by skipping everything instead of running the last operation again.
    await this.#save(last && keep ? "completed" : "running", location);
    if (last && !keep) await this.#delete(location);
  }

  /** Records the failure of operation `index` so the next run re-executes it. */
  async failed(context: OperationContext<any>, error: unknown): Promise<void> {
    if (!this.#options.persistOnFailure || context.signal.aborted || preventsCompensation(error)) return;
    this.#status = "failed";
    this.#error = storedError(error, context.index, context.operation.name);
    try {
      await this.#save("failed", this.#locate(context.index));
    } catch (saveError) {
      // Another process owns the instance now: that, not the operation's error, is what matters.
      if (isWorkflowForgeError(saveError) && saveError.code === "SNAPSHOT_CONFLICT") throw saveError;
      // Otherwise the operation's own error is what the caller must see; the stored snapshot is
      // still the last checkpoint, which resumes at this same operation.
      this.#foundry.logger.warn(`could not record the failure of ${this.#workflow.name} #${context.index}`, saveError);
    }
  }

  // Two leased runs of one process share its owner, so the lease cannot keep them apart.
  #holdHere(context: OperationContext<any>): void {
    const release = holdInstance(this.#provider, this.keys);
    if (release === undefined) throw new SnapshotConflictError({ keys: this.keys, detail: "another run in this process is running this instance" });
    context.run.onSettled(release);
  }

  // The claim is an ordinary compare-and-set save, so of two processes that loaded the same
  // revision only one gets to run. The lease then lives until the run settles.
  async #claim(context: OperationContext<any>, ttlMs: number): Promise<void> {
    await this.#save(this.#status, this.#locate(this.#next));
    const lease = new LeaseKeeper({
      ttlMs,
      renew: (held) => this.#renewLease(ttlMs, held),
      expired: () =>
        new SnapshotConflictError({ keys: this.keys, location: this.#locate(this.#next), detail: `the lease ran out after ${ttlMs} ms without a save reaching the store` }),
      warn: (error) => this.#foundry.logger.warn(`could not renew the lease on ${describeKeys(this.keys)}`, error),
    });
    this.#lease = lease;
    context.run.onSettled(() => lease.stop());
  }

  // Re-saves exactly what the last checkpoint stored (loaded back, so a half-finished operation's
  // changes to the properties are not written) with a new lease.
  async #renewLease(ttlMs: number, held: () => boolean): Promise<void> {
    const location = this.#locate(this.#next);
    const stored = await loadSnapshot(this.#provider, this.keys, this.#signal, location);
    if (stored?.revision !== this.#revision || stored.owner !== this.#options.owner) {
      const found = stored === undefined ? "no snapshot" : `revision ${stored.revision} of owner "${stored.owner ?? "none"}"`;
      throw new SnapshotConflictError({ keys: this.keys, location, detail: `the claim was lost: found ${found}, this run saved revision ${this.#revision}` });
    }
    if (!held()) return;
    const now = Date.now();
    const renewed = { ...stored, revision: this.#revision + 1, updatedAt: isoTime(now), leaseExpiresAt: isoTime(now + ttlMs) };
    await this.#call("save", location, () => this.#provider.save(renewed, this.#signal), renewed.revision);
    this.#revision = renewed.revision;
    this.#foundry.emit("snapshotSaved", this.#event(renewed));
  }

  async #adopt(snapshot: WorkflowExecutionSnapshot): Promise<void> {
    this.#revision = snapshot.revision;
    if (snapshot.status === "completed") return;
    this.#assertUnclaimed(snapshot);
    const current = await this.#reconcile(snapshot);
    if (current === undefined || current.status === "completed") return;
    this.#createdAt = current.createdAt;
    this.#next = current.nextOperationIndex;
    this.#outputs = { ...current.outputs };
    this.#lastOutput = current.lastOutput;
    this.#error = current.error;
    this.#attempts = current.attempts;
    if (current.status === "compensating") {
      this.#status = "compensating";
      const error = new WorkflowCompensatedError(this.keys, this.#workflow.name, current.error);
      this.resumeCompensation = resumeCompensation(current.nextOperationIndex, this.#outputs, error);
      return;
    }
    restoreProperties(this.#foundry.properties as Record<string, unknown>, current.properties);
    this.resumeFrom = current.nextOperationIndex;
    this.#foundry.emit("snapshotRestored", this.#event(current));
  }

  // Another owner's live lease means another process is running (or compensating) this instance
  // right now.
  #assertUnclaimed(snapshot: WorkflowExecutionSnapshot): void {
    if (isClaimedByOther(snapshot, this.#options.owner)) {
      throw new SnapshotConflictError({ keys: this.keys, detail: describeClaim(snapshot) });
    }
  }

  // Applies onDefinitionMismatch. Resolves with the snapshot to resume from, or undefined to start fresh.
  async #reconcile(snapshot: WorkflowExecutionSnapshot): Promise<WorkflowExecutionSnapshot | undefined> {
    const operationCount = this.#workflow.operations.length;
    if (snapshot.definitionFingerprint === this.#fingerprint && snapshot.operationCount === operationCount) return snapshot;
    const policy = this.#options.onDefinitionMismatch;
    if (policy === "restart") return undefined;
    if (policy === "error") {
      const detail = `stored ${snapshot.operationCount} operations (${snapshot.definitionFingerprint}), current ${operationCount} (${this.#fingerprint})`;
      throw new WorkflowDefinitionMismatchError(this.keys, this.#workflow.name, detail);
    }
    const migrated = await policy(snapshot, this.#workflow);
    if (migrated === undefined) return undefined;
    return validateSnapshot({ ...migrated, ...this.keys, definitionFingerprint: this.#fingerprint, operationCount }, this.keys);
  }

  #compensationObserver(): CompensationObserver {
    return {
      started: async ({ pending, error }) => {
        if (this.#status === "compensating" && this.#next === pending) return; // resumed: already stored
        this.#status = "compensating";
        this.#next = pending;
        this.#error ??= storedError(error, pending, this.#workflow.operations[pending]?.name ?? "");
        await this.#save("compensating", this.#locate(pending));
      },
      restored: async ({ pending }) => {
        this.#next = pending;
        await this.#save("compensating", this.#locate(pending));
      },
      completed: () => this.#delete(this.#locate(0)),
    };
  }

  async #finish(location: ErrorLocation): Promise<void> {
    if (this.#options.onComplete === "keep") await this.#save("completed", location);
    else await this.#delete(location);
  }

  async #save(status: SnapshotStatus, location: ErrorLocation): Promise<void> {
    const lease = this.#lease;
    if (lease !== undefined) await lease.beforeSave();
    const snapshot = this.#snapshot(status);
    let saved = false;
    try {
      await this.#call("save", location, () => this.#provider.save(snapshot, this.#signal), snapshot.revision);
      saved = true;
    } finally {
      lease?.afterSave(saved);
    }
    if (status === "completed") void lease?.stop();
    this.#revision = snapshot.revision;
    this.#status = status;
    this.#foundry.emit("snapshotSaved", this.#event(snapshot));
  }

  async #delete(location: ErrorLocation): Promise<void> {
    const { foundryExecutionId, workflowId } = this.keys;
    const lease = this.#lease;
    if (lease !== undefined) {
      await lease.beforeSave();
      void lease.stop();
      lease.afterSave(false);
    }
    await this.#call("delete", location, () => this.#provider.delete(foundryExecutionId, workflowId, this.#signal));
    this.#revision = 0;
    this.#foundry.emit("snapshotDeleted", { foundryExecutionId, workflowId });
  }

  #snapshot(status: SnapshotStatus): WorkflowExecutionSnapshot {
    const now = Date.now();
    const updatedAt = isoTime(now);
    this.#createdAt ??= updatedAt;
    const snapshot: Writable<WorkflowExecutionSnapshot> = {
      formatVersion: 1,
      ...this.keys,
      workflowName: this.#workflow.name,
      definitionFingerprint: this.#fingerprint,
      operationCount: this.#workflow.operations.length,
      nextOperationIndex: this.#next,
      properties: { ...(this.#foundry.properties as Record<string, unknown>) },
      status,
      revision: this.#revision + 1,
      owner: this.#options.owner,
      createdAt: this.#createdAt,
      updatedAt,
    };
    if (this.#workflow.version !== undefined) snapshot.workflowVersion = this.#workflow.version;
    if (this.#lastOutput !== undefined) snapshot.lastOutput = this.#lastOutput;
    if (hasKeys(this.#outputs)) snapshot.outputs = { ...this.#outputs };
    if (this.#error !== undefined && status !== "running" && status !== "completed") snapshot.error = this.#error;
    if (this.#options.leaseTtlMs !== undefined) snapshot.leaseExpiresAt = isoTime(now + this.#options.leaseTtlMs);
    if (this.#attempts !== undefined) snapshot.attempts = this.#attempts;
    return snapshot;
  }

  #call<T>(call: ProviderCall, location: ErrorLocation | undefined, invoke: () => T | Promise<T>, revision?: number): Promise<T> {
    return callProvider({ call, keys: this.keys, location, revision }, invoke);
  }

  #locate(index: number): ErrorLocation {
    return { workflowName: this.#workflow.name, operationName: this.#workflow.operations[index]?.name, operationIndex: index };
  }

  #event(snapshot: WorkflowExecutionSnapshot) {
    const { foundryExecutionId, workflowId, nextOperationIndex, status, revision } = snapshot;
    return { foundryExecutionId, workflowId, nextOperationIndex, status, revision };
  }
}

// Formatting a date costs more than the rest of a small checkpoint; many land in the same millisecond.
let lastTime = Number.NaN;
let lastIso = "";
function isoTime(ms: number): string {
  if (ms !== lastTime) {
    lastTime = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

function hasKeys(record: object): boolean {
  for (const key in record) if (Object.hasOwn(record, key)) return true;
  return false;
}
