import { abortError, neverAborted, sleep } from "../../abort.js";
import { isWorkflowForgeError } from "../../errors.js";
import { createFoundry, whenIdle, type Foundry } from "../../foundry.js";
import { describe, rejectUnknownKeys, requireFunction, requireName, requireOptionalSignal, requireOptionsObject, requirePositiveInteger, requirePositiveNumber } from "../../internal/validate.js";
import { createSmith, type Smith } from "../../smith.js";
import type { MaybePromise } from "../../types.js";
import type { Workflow } from "../../workflow.js";
import { SnapshotConflictError, type SnapshotCorruptedError, type SnapshotKeys } from "../errors.js";
import { addPersistence } from "../middleware.js";
import { processOwner, resolvePersistenceOptions, type PersistenceOptions, type ResolvedPersistenceOptions } from "../options.js";
import type { SnapshotFilter, WorkflowPersistenceProvider } from "../provider.js";
import { callProvider, loadSnapshot } from "../provider-call.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { enqueuedSnapshot, type EnqueueOptions } from "./enqueue.js";
import { RetriesExhaustedError, UnknownWorkflowError } from "./errors.js";
import { listSnapshots } from "./list.js";
import { reportOf, type FailedInstance, type InstanceRef, type RecoveryOutcome, type RecoveryReport, type SkippedInstance } from "./report.js";
import { resolveRetry, retryDelay, type ResolvedRetry, type RetryOptions } from "./retry.js";
import { describeClaim, isClaimedByOther } from "../claim.js";
import { pairKey } from "../keys.js";
import { deadLetterSnapshot, isDeadLetter } from "./dead-letter.js";

export interface RecoveryCoordinatorOptions {
  /** Must declare `compareAndSet` (claims) and `list` (`resumeAll`). */
  readonly provider: WorkflowPersistenceProvider;
  /** The definition to resume a snapshot with, chosen by its `workflowName` and `workflowVersion`; `undefined` when unknown. */
  readonly resolveWorkflow: (snapshot: WorkflowExecutionSnapshot) => MaybePromise<Workflow<any> | undefined>;
  /**
   * A new foundry for each attempt, with your logger, middleware and event listeners; the
   * coordinator adds persistence itself (do not call `usePersistence` on it). Its properties are
   * replaced by the stored ones. @default createFoundry(snapshot.workflowName, { executionId: snapshot.foundryExecutionId })
   */
  readonly createFoundry?: (snapshot: WorkflowExecutionSnapshot) => MaybePromise<Foundry<any>>;
  /** Runs every attempt, with its workflow middleware, events and compensation. @default createSmith() */
  readonly smith?: Smith;
  readonly retry?: RetryOptions;
  /** Instances `resumeAll` runs at once. @default 4 */
  readonly concurrency?: number;
  /** The claim's owner written into every snapshot. @default an id unique to this process */
  readonly owner?: PersistenceOptions["owner"];
  /** How long a claim outlives its last renewal; another worker takes over an instance only after that. @default 30_000 */
  readonly leaseTtlMs?: number;
  /** What the resumed runs do with a completed snapshot. @default "delete" */
  readonly onComplete?: PersistenceOptions["onComplete"];
  /** @default "error" (the instance is reported failed and left alone) */
  readonly onDefinitionMismatch?: PersistenceOptions["onDefinitionMismatch"];
}

export interface RecoveryRunOptions {
  /** Stops waiting between attempts, and the run in progress (it is left to resume later). */
  readonly signal?: AbortSignal;
}

export interface RecoveryCoordinator {
  /** The claim's owner this coordinator writes. */
  readonly owner: string;
  /**
   * Resumes one stored instance through the smith, retrying as configured. Never rejects for a
   * failed run: the outcome carries the error. Rejects only for invalid arguments.
   */
  resume(instanceId: string, workflowKey: string, options?: RecoveryRunOptions): Promise<RecoveryOutcome>;
  /**
   * Resumes every stored instance that `filter` matches and is not finished (status `running`,
   * `failed` or `compensating` unless the filter names statuses), `concurrency` at a time.
   * Instances another worker holds a live lease on are skipped; expired ones are taken over.
   */
  resumeAll(filter?: SnapshotFilter, options?: RecoveryRunOptions): Promise<RecoveryReport>;
  /**
   * Stores a new instance of `workflow` that has not started, for any worker's `resumeAll` to run.
   * Rejects with `SnapshotConflictError` when the instance exists and has not completed.
   */
  enqueue(workflow: Workflow<any>, options: EnqueueOptions, runOptions?: RecoveryRunOptions): Promise<InstanceRef>;
}

const where = "createRecoveryCoordinator(options)";
const known = ["provider", "resolveWorkflow", "createFoundry", "smith", "retry", "concurrency", "owner", "leaseTtlMs", "onComplete", "onDefinitionMismatch"];
const unfinished = ["running", "failed", "compensating"] as const;

/**
 * Resumes interrupted workflows across processes without a workflow server: every worker runs
 * `resumeAll` (for example on start and then on an interval) against the same store. Claims are
 * compare-and-set saves with a lease, so each instance runs in one worker at a time; an instance
 * whose worker died is taken over once its lease expires.
 */
export function createRecoveryCoordinator(options: RecoveryCoordinatorOptions): RecoveryCoordinator {
  return new Coordinator(resolveCoordinatorOptions(options));
}

interface ResolvedCoordinatorOptions {
  readonly provider: WorkflowPersistenceProvider;
  readonly resolveWorkflow: RecoveryCoordinatorOptions["resolveWorkflow"];
  readonly createFoundry: NonNullable<RecoveryCoordinatorOptions["createFoundry"]>;
  readonly smith: Smith;
  readonly retry: ResolvedRetry;
  readonly concurrency: number;
  readonly persistence: Omit<ResolvedPersistenceOptions, "instanceId" | "workflowKey">;
}

function resolveCoordinatorOptions(input: RecoveryCoordinatorOptions): ResolvedCoordinatorOptions {
  const options = requireOptionsObject(input, where) as unknown as RecoveryCoordinatorOptions;
  rejectUnknownKeys(options, known, where);
  const { provider, concurrency = 4, leaseTtlMs = 30_000 } = options;
  if (typeof provider !== "object" || provider === null || provider.capabilities?.compareAndSet !== true || provider.capabilities.list !== true) {
    throw new TypeError(`${where}: options.provider must declare capabilities.compareAndSet and capabilities.list, got ${describe(provider)}`);
  }
  requireFunction(options.resolveWorkflow, `${where}: options.resolveWorkflow`);
  if (options.createFoundry !== undefined) requireFunction(options.createFoundry, `${where}: options.createFoundry`);
  requirePositiveInteger(concurrency, `${where}: options.concurrency`);
  requirePositiveNumber(leaseTtlMs, `${where}: options.leaseTtlMs`);
  if (options.owner !== undefined) requireName(options.owner, `${where}: options.owner`);
  const persistence = resolvePersistenceOptions({
    owner: options.owner ?? processOwner,
    lease: { ttlMs: leaseTtlMs },
    onComplete: options.onComplete,
    onDefinitionMismatch: options.onDefinitionMismatch,
  });
  return {
    provider,
    resolveWorkflow: options.resolveWorkflow,
    createFoundry: options.createFoundry ?? ((snapshot) => createFoundry(snapshot.workflowName, { executionId: snapshot.foundryExecutionId })),
    smith: options.smith ?? createSmith(),
    retry: resolveRetry(options.retry),
    concurrency,
    persistence: { ...persistence, countsAttempts: true },
  };
}

class Coordinator implements RecoveryCoordinator {
  readonly owner: string;
  readonly #options: ResolvedCoordinatorOptions;
  // Instances this coordinator is resuming now, so that two resumeAll loops never race each other.
  readonly #inFlight = new Set<string>();

  constructor(options: ResolvedCoordinatorOptions) {
    this.#options = options;
    this.owner = options.persistence.owner;
  }

  // Arguments are checked synchronously: misuse throws at the call, it does not become a rejection.
  resume(instanceId: string, workflowKey: string, options: RecoveryRunOptions = {}): Promise<RecoveryOutcome> {
    requireName(instanceId, "coordinator.resume(instanceId, workflowKey): instanceId");
    requireName(workflowKey, "coordinator.resume(instanceId, workflowKey): workflowKey");
    requireOptionalSignal(options.signal, "coordinator.resume(instanceId, workflowKey, options): options.signal");
    return this.#resumeOnce({ instanceId, workflowKey }, options.signal ?? neverAborted);
  }

  async #resumeOnce(ref: InstanceRef, signal: AbortSignal): Promise<RecoveryOutcome> {
    const flightKey = pairKey(keysOf(ref));
    if (this.#inFlight.has(flightKey)) return { ...ref, status: "skipped", reason: "in-progress" };
    this.#inFlight.add(flightKey);
    try {
      return await this.#resumeWithRetry(ref, signal);
    } finally {
      this.#inFlight.delete(flightKey);
    }
  }

  async resumeAll(filter: SnapshotFilter = {}, options: RecoveryRunOptions = {}): Promise<RecoveryReport> {
    const signal = options.signal ?? neverAborted;
    const outcomes: RecoveryOutcome[] = [];
    // One unreadable record must not hold up the others: it is reported, and left where it is.
    const onUnreadable = (error: SnapshotCorruptedError): void => {
      outcomes.push(failed({ instanceId: error.keys.foundryExecutionId, workflowKey: error.keys.workflowId }, error, 0, false));
    };
    const snapshots = await listSnapshots(this.#options.provider, { status: unfinished, ...filter }, signal, { onUnreadable });
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < snapshots.length) {
        const snapshot = snapshots[next++] as WorkflowExecutionSnapshot;
        outcomes.push(await this.#resumeOnce({ instanceId: snapshot.foundryExecutionId, workflowKey: snapshot.workflowId }, signal));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#options.concurrency, snapshots.length) }, worker));
    return reportOf(outcomes);
  }

  enqueue(workflow: Workflow<any>, options: EnqueueOptions, runOptions: RecoveryRunOptions = {}): Promise<InstanceRef> {
    requireOptionalSignal(runOptions.signal, "coordinator.enqueue(workflow, options, runOptions): runOptions.signal");
    return this.#store(enqueuedSnapshot(workflow, options), runOptions);
  }

  async #store(draft: WorkflowExecutionSnapshot, runOptions: RecoveryRunOptions): Promise<InstanceRef> {
    const keys = { foundryExecutionId: draft.foundryExecutionId, workflowId: draft.workflowId };
    const stored = await this.#load(keys, runOptions.signal);
    if (stored !== undefined && stored.status !== "completed") {
      throw new SnapshotConflictError({ keys, detail: `the instance already exists with status "${stored.status}"` });
    }
    // A kept `completed` record is replaced; its revision continues so compare-and-set holds.
    const snapshot = { ...draft, revision: (stored?.revision ?? 0) + 1 };
    await callProvider({ call: "save", keys, revision: snapshot.revision }, () => this.#options.provider.save(snapshot, runOptions.signal));
    return { instanceId: keys.foundryExecutionId, workflowKey: keys.workflowId };
  }

  // Every pass reloads what is stored, so the decision always rests on the latest revision: the
  // attempts count lives in the store, shared by every worker that ever claimed the instance.
  // Whatever goes wrong, including in the caller's callbacks, becomes this instance's outcome.
  async #resumeWithRetry(ref: InstanceRef, signal: AbortSignal): Promise<RecoveryOutcome> {
    const { retry } = this.#options;
    let lastError: Error | undefined;
    let attempts = 0;
    try {
      for (let tries = 0; ; tries++) {
        if (signal.aborted) return failed(ref, lastError ?? abortError(signal, {}), attempts, false);
        const snapshot = await this.#load(keysOf(ref), signal);
        attempts = snapshot?.attempts ?? attempts;
        const settled = this.#settledOutcome(ref, snapshot, lastError, attempts);
        if (settled !== undefined) return settled;
        const current = snapshot as WorkflowExecutionSnapshot;
        if (attempts >= retry.attempts) return await this.#deadLetter(ref, current, lastError, signal);
        // Claims that never reached the store count no attempt there; this bounds them too.
        if (lastError !== undefined && tries >= retry.attempts) return failed(ref, lastError, attempts, false);
        const attempt = await this.#attempt(ref, current, signal);
        if (attempt.status !== "retry") return attempt;
        lastError = attempt.error;
        attempts = attempt.attempts;
        if (signal.aborted || !retry.retryIf(attempt.error, attempts)) return failed(ref, attempt.error, attempts, false);
        if (attempts < retry.attempts) await sleep(retryDelay(retry, attempts), signal, {});
      }
    } catch (error) {
      // An abort while waiting reports the attempt's own error; anything else is reported as is.
      return failed(ref, lastError !== undefined && signal.aborted ? lastError : toError(error), attempts, false);
    }
  }

  // What to report without running anything, or undefined when the instance should run.
  #settledOutcome(ref: InstanceRef, snapshot: WorkflowExecutionSnapshot | undefined, lastError: Error | undefined, attempts: number): RecoveryOutcome | undefined {
    // After a failed attempt, a vanished or completed record means the run ended there (for example
    // compensated): that attempt's error is the outcome.
    if (lastError !== undefined && (snapshot === undefined || snapshot.status === "completed")) return failed(ref, lastError, attempts, false);
    if (snapshot === undefined) return { ...ref, status: "skipped", reason: "absent" };
    if (snapshot.status === "completed") return { ...ref, status: "skipped", reason: "completed" };
    if (isClaimedByOther(snapshot, this.owner)) {
      return { ...ref, status: "skipped", reason: "claimed", detail: describeClaim(snapshot) };
    }
    if (lastError === undefined && isDeadLetter(snapshot, this.#options.retry.attempts)) {
      return { ...ref, status: "skipped", reason: "dead-letter", detail: `gave up after ${attempts} attempts` };
    }
    return undefined;
  }

  async #attempt(ref: InstanceRef, snapshot: WorkflowExecutionSnapshot, signal: AbortSignal): Promise<RecoveryOutcome | { status: "retry"; error: Error; attempts: number }> {
    const stored = snapshot.attempts ?? 0;
    let workflow: Workflow<any> | undefined;
    let foundry: Foundry<any>;
    try {
      workflow = await this.#options.resolveWorkflow(snapshot);
      if (workflow === undefined) throw new UnknownWorkflowError(keysOf(ref), snapshot.workflowName, snapshot.workflowVersion);
      foundry = await this.#options.createFoundry(snapshot);
      addPersistence(foundry, this.#options.provider, { ...this.#options.persistence, instanceId: ref.instanceId, workflowKey: ref.workflowKey });
    } catch (error) {
      // Nothing was claimed, so no attempt was spent; another try would fail the same way.
      return failed(ref, toError(error), stored, false);
    }
    try {
      const output = await this.#options.smith.forge(workflow, foundry, signal === neverAborted ? {} : { signal });
      return { ...ref, status: "resumed", output, attempts: stored + 1 };
    } catch (error) {
      // A smith timeout rejects before the run let go of the instance. Another attempt must not
      // start while this one may still be running (its lease keeps others out meanwhile).
      if (!(await settlesWithin(foundry[whenIdle](), this.#options.persistence.leaseTtlMs ?? 0))) {
        return failed(ref, toError(error), stored + 1, false);
      }
      if (isWorkflowForgeError(error) && error.code === "SNAPSHOT_CONFLICT") return { ...ref, status: "skipped", reason: "claimed", detail: error.message };
      return { status: "retry", error: toError(error), attempts: stored + 1 };
    }
  }

  async #deadLetter(ref: InstanceRef, snapshot: WorkflowExecutionSnapshot, lastError: Error | undefined, signal: AbortSignal): Promise<FailedInstance | SkippedInstance> {
    const keys = keysOf(ref);
    const attempts = snapshot.attempts ?? 0;
    const error = new RetriesExhaustedError(keys, snapshot.workflowName, attempts, lastError);
    const record = deadLetterSnapshot(snapshot, lastError ?? error, this.owner);
    try {
      if (signal.aborted) throw abortError(signal, {});
      await callProvider({ call: "save", keys, revision: record.revision }, () => this.#options.provider.save(record, signal));
    } catch (saveError) {
      if (isWorkflowForgeError(saveError) && saveError.code === "SNAPSHOT_CONFLICT") return { ...ref, status: "skipped", reason: "claimed", detail: saveError.message };
      return failed(ref, toError(saveError), attempts, false);
    }
    return failed(ref, error, attempts, true);
  }

  #load(keys: SnapshotKeys, signal: AbortSignal | undefined): Promise<WorkflowExecutionSnapshot | undefined> {
    return loadSnapshot(this.#options.provider, keys, signal);
  }
}

async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function failed(ref: InstanceRef, error: Error, attempts: number, deadLettered: boolean): FailedInstance {
  return { ...ref, status: "failed", error, attempts, deadLettered };
}

function keysOf(ref: InstanceRef): SnapshotKeys {
  return { foundryExecutionId: ref.instanceId, workflowId: ref.workflowKey };
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(`non-Error thrown: ${describe(value)}`, { cause: value });
}
