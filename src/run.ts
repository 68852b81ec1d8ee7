import { abortError, neverAborted } from "./abort.js";
import { compose } from "./compose.js";
import { CurrentOperation } from "./current-operation.js";
import { runCompensation, type CompensationSettings } from "./compensation.js";
import { isSuspended, isWorkflowForgeError, preventsCompensation, type ErrorLocation } from "./errors.js";
import { markMade, markStopped, misuse, nestedRunFailure, numberRun, operationFailure, runsSoFar, suspendsRun } from "./run-errors.js";
import { idempotencyKeyOf } from "./idempotency.js";
import { logSafely } from "./logger.js";
import { scopedFoundry } from "./scoped-foundry.js";
import type { Emitter, FoundryEvents } from "./events.js";
import type { Foundry } from "./foundry.js";
import { OperationReports } from "./operation-reports.js";
import { outputOf, restoreDataOf } from "./outcome.js";
import { RunPlan } from "./run-plan.js";
import { hasStartHooks, runStartHooks } from "./start-hooks.js";
import type { CompensationObserver, InstanceIdentity, OperationContext, OperationMiddleware, ResumePoint, RunAnnotations, RunContext, RunOutcome, WorkflowInfo } from "./types.js";
import { eventWaitWithoutHost, type WaitHost } from "./waits.js";

export interface RunRequest {
  readonly foundry: Foundry<any>;
  readonly workflow: WorkflowInfo;
  readonly middleware: readonly OperationMiddleware[];
  readonly emitter: Emitter<FoundryEvents>;
  readonly input: unknown;
  readonly signal: AbortSignal;
  /** How failures are compensated; `compensate: false` for a bare foundry. */
  readonly compensation: CompensationSettings;
}

/** @internal Runs the operations: for the foundry only, not for the middleware that sees the run. */
export const runOperations: unique symbol = Symbol("workflowforge.runOperations");
/** @internal Calls the settle callbacks once the run is over. */
export const settleRun: unique symbol = Symbol("workflowforge.settleRun");

/** One execution of a list of operations on a foundry. */
export class Run implements RunContext {
  readonly workflow: WorkflowInfo;
  readonly compensates: boolean;
  /** The operation being executed, for idempotency keys. */
  currentIndex = -1;
  /** What makes this run's waits durable, when an extension provides it. */
  waitHost: WaitHost | undefined;

  readonly #request: RunRequest;
  readonly #observers = new Set<CompensationObserver>();
  readonly #settled: ((outcome: RunOutcome) => void | Promise<void>)[] = [];
  /** What each completed (or skipped) operation's restore will receive. */
  readonly restoreData: unknown[] = [];
  readonly #reports: OperationReports;
  readonly #current: CurrentOperation;
  readonly #plan: RunPlan;
  readonly #number = numberRun();

  constructor(request: RunRequest) {
    this.#request = request;
    this.workflow = request.workflow;
    this.compensates = request.compensation.compensate;
    this.#plan = new RunPlan(request.workflow, request.foundry.executionId);
    this.#reports = new OperationReports(request.emitter, request.workflow);
    this.#current = new CurrentOperation((index) => this.#locate(index), request.signal);
  }

  #compose(middleware: readonly OperationMiddleware[]): (context: OperationContext<any>) => Promise<unknown> {
    return compose<OperationContext<any>, unknown>(middleware, (context) => this.#forge(context), misuse);
  }

  get identity(): InstanceIdentity {
    return this.#plan.identity;
  }

  get annotations(): RunAnnotations {
    return this.#plan.annotations;
  }

  setIdentity(identity: InstanceIdentity): void {
    this.#plan.setIdentity(identity);
  }

  resumeAt(index: number, point?: ResumePoint): void {
    this.#plan.resumeAt(index, point);
  }

  resumeCompensation(pending: number, error: Error, restoreData?: Readonly<Record<number, unknown>>): void {
    this.#plan.resumeCompensation(pending, error, restoreData);
  }

  observeCompensation(observer: CompensationObserver): () => void {
    this.#observers.add(observer);
    return () => void this.#observers.delete(observer);
  }

  onSettled(callback: (outcome: RunOutcome) => void | Promise<void>): void {
    this.#settled.push(callback);
  }

  provideWaits(host: WaitHost): void {
    if (this.waitHost !== undefined) throw new TypeError(`run of ${this.workflow.name}: provideWaits() was called twice`);
    this.waitHost = host;
  }

  /** Called by the foundry when the run is over. A failing callback cannot change the outcome. */
  async [settleRun](outcome: RunOutcome): Promise<void> {
    for (const callback of this.#settled.splice(0)) {
      try {
        await callback(outcome);
      } catch (error) {
        logSafely(this.#request.foundry.logger, "warn", `a settle callback of ${this.workflow.name} failed`, error);
      }
    }
  }

  async [runOperations](): Promise<unknown> {
    try {
      return await this.#operate();
    } catch (error) {
      // An operation that forged this run meets this stop as its own failure (see nestedRunFailure).
      markStopped(error, this.#number);
      throw error;
    } finally {
      this.#reports.moveOn();
    }
  }

  async #operate(): Promise<unknown> {
    const { foundry, signal, workflow, middleware } = this.#request;
    const operations = workflow.operations;
    let input = this.#request.input;
    // Reading `aborted` is not free; a run without a signal cannot abort.
    const abortable = signal !== neverAborted;
    if (abortable && signal.aborted) throw abortError(signal, this.#locate(0));
    if (operations.length === 0) return input;
    // An array, not a Set: a run has a handful of layers. Made only for a run with start hooks.
    const bypassed: OperationMiddleware[] | undefined = hasStartHooks(middleware) ? [] : undefined;
    // Without start hooks, or with hooks that return synchronously, the first operation starts at once: no extra await.
    const starting = bypassed === undefined ? undefined : this.#start(bypassed);
    if (starting !== undefined) await starting;
    // Composed once the hooks ran, without the layers that bypassed the run: one composition per run.
    const chain = this.#compose(bypassed === undefined || bypassed.length === 0 ? middleware : middleware.filter((layer) => !bypassed.includes(layer)));
    const { plan } = this.#plan;
    if (plan.kind === "compensate") {
      Object.assign(this.restoreData, plan.restoreData);
      throw await this.#compensate(plan.pending, plan.error);
    }
    const resumeFrom = plan.from;
    const refused = this.waitHost === undefined ? eventWaitWithoutHost(workflow, resumeFrom) : undefined;
    if (refused !== undefined) throw await this.#fail(resumeFrom, refused, false, false);
    if (resumeFrom > 0) Object.assign(this.restoreData, plan.point.restoreData);
    // At 0, a stored input (a wait there suspended the run with it) is the instance's, as a later operation's stored output is.
    if (resumeFrom > 0 || plan.point.lastOutput !== undefined) input = plan.point.lastOutput;
    let completed = false; // the last operation, before any abort: then the run completed (see completedInTime)
    for (let index = 0; index < operations.length; index++) {
      const operation = operations[index] as OperationContext["operation"];
      if (abortable && signal.aborted) throw abortError(signal, this.#locate(index));
      this.currentIndex = index;
      if (index < resumeFrom) {
        this.#reports.emit("operationSkipped", index, {});
        continue;
      }
      this.#reports.moveOn();
      this.#current.open(index);
      let result: unknown;
      try {
        result = await chain({ operation, index, input, foundry, signal, run: this });
      } catch (error) {
        throw await this.#fail(index, error, this.#closeOperation(index));
      }
      this.#current.close();
      completed = this.#current.completedInTime;
      this.restoreData[index] = restoreDataOf(result);
      input = outputOf(result);
    }
    if (abortable && signal.aborted && !completed) throw abortError(signal, this.#locate(operations.length - 1));
    return input;
  }

  // Runs every middleware's start hook, in order; a promise only when a hook returned one (or
  // threw). A hook's failure is reported as operation 0's but compensates nothing: no operation ran,
  // and what an earlier run completed stays stored for the next, not undone for a failed tracer.
  #start(bypassed: OperationMiddleware[]): Promise<void> | undefined {
    const { foundry, signal, input, middleware } = this.#request;
    return runStartHooks(middleware, { run: this, foundry, input, signal, bypassed }, this.#plan)?.catch(async (error: unknown) => {
      throw await this.#fail(0, error, false, false);
    });
  }

  // The innermost layer: runs the operation itself and reports its lifecycle.
  // Not async: without completion listeners the operation's own result goes straight back to the
  // onion (a synchronous throw is turned into a rejection by compose).
  #forge(context: OperationContext<any>): unknown {
    const { operation, index, input, signal } = context;
    // A middleware may have been awaiting something when the run aborted: the operation must not start.
    const runSignal = this.#request.signal;
    if (runSignal !== neverAborted && runSignal.aborted) throw abortError(runSignal, this.#locate(index));
    if (signal !== neverAborted && signal.aborted) throw abortError(signal, this.#locate(index));
    this.#current.requireOpen(index);
    this.#reports.emit("operationStarted", index, { input });
    const since = runsSoFar();
    const location = (): ErrorLocation => this.#locate(index);
    const foundry = this.#foundryFor(index, context.foundry); // its own key and index, even once a timeout gave up on it
    if (!this.#reports.observed) {
      this.#reports.unobserved();
      return this.#current.follow(index, operation.forge(input, foundry, signal), since, signal, location, this.#number);
    }
    const failure = (thrown: unknown): unknown => nestedRunFailure(thrown, since, signal, location, this.#number);
    const ended = (completed: boolean, result: unknown): void => this.#current.ended(index, completed, result);
    return this.#reports.observe(index, () => operation.forge(input, foundry, signal), failure, (error) => suspendsRun(error, this.identity), ended);
  }

  // Operation `index`'s chain settled: true when the operation completed in it (a layer outside it
  // may still have thrown), its restore then receiving what it completed with.
  #closeOperation(index: number): boolean {
    const completed = this.#current.close();
    if (completed) this.restoreData[index] = restoreDataOf(this.#current.result);
    return completed;
  }


  // What the run rejects with when operation `index` failed, reported once, compensated if
  // `compensates`: the operations before it, and it too when it `completed` (a layer outside it threw).
  async #fail(index: number, thrown: unknown, completed: boolean, compensates = this.compensates): Promise<Error> {
    const { signal } = this.#request;
    const location = this.#locate(index);
    const error = signal.aborted ? abortError(signal, location) : operationFailure(thrown, location, this.identity, this.#number);
    this.#reports.runFailed(index, isSuspended(error) ? undefined : error);
    if (!compensates || preventsCompensation(error)) return error;
    return this.#compensate(completed ? index + 1 : index, error);
  }

  #compensate(pending: number, error: Error): Promise<Error> {
    const { foundry, signal, workflow, compensation } = this.#request;
    // What compensating made (a restore failed, or a resumed compensation ended) is this run's own failure.
    const made = (outcome: Error): Error => (isWorkflowForgeError(outcome) && (outcome.code === "COMPENSATION_FAILED" || outcome.code === "WORKFLOW_COMPENSATED") ? markMade(outcome, this.#number) : outcome);
    return runCompensation({
      foundry,
      signal,
      workflow,
      settings: compensation,
      observers: [...this.#observers],
      restoreData: this.restoreData,
      pending,
      error,
      // foundry.idempotencyKey() in a restore is the key its operation had (a refund can name the charge),
      // on the foundry it is handed and on the foundry itself, which is then at that operation.
      foundryFor: (index) => ((this.currentIndex = index), this.#foundryFor(index, foundry)),
    }).then(made);
  }

  // `foundry` as operation `index` (or its restore) sees it: its idempotencyKey() and currentOperation are that operation's.
  #foundryFor(index: number, foundry: Foundry<any>): Foundry<any> {
    return scopedFoundry(foundry, {
      idempotencyKey: (suffix) => idempotencyKeyOf(this.identity, index, suffix),
      currentOperation: { name: this.workflow.operations[index]?.name ?? "", index },
    });
  }

  #locate(index: number): ErrorLocation {
    const operation = this.workflow.operations[index];
    return { workflowName: this.workflow.name, operationName: operation?.name, operationIndex: index };
  }
}
