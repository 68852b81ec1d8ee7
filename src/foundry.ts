import { neverAborted } from "./abort.js";
import type { CompensationSettings } from "./compensation.js";
import { FoundryBusyError } from "./errors.js";
import { Emitter, foundryEventNames, type FoundryEvents, type Listener } from "./events.js";
import { requireFunction, requireName, requireOptionalSignal, requireOptionsObject, rejectUnknownKeys } from "./internal/validate.js";
import { copyProperties, requirePlainBag } from "./internal/copy-properties.js";
import { refuseFactory } from "./middleware/factories.js";
import { idempotencyKeyOf } from "./idempotency.js";
import { requireLogger, silentLogger } from "./logger.js";
import { delegate } from "./operations/delegate.js";
import { Run, runOperations, settleRun } from "./run.js";
import { requireClock, systemClock, type Clock } from "./clock.js";
import { waitInProcess, type WaitSpec } from "./waits.js";
import type { ForgeFunction, ForgeOptions, Logger, Operation, OperationMiddleware, Properties, RestoreFunction, RunOutcome, WorkflowInfo } from "./types.js";
import type { RestoreDataResult } from "./outcome.js";

/** The options of `createFoundry(name, init)`. */
export interface FoundryInit<P extends object = Properties> {
  /** Identifies this execution (and, without `instanceId`, its snapshot). @default crypto.randomUUID() */
  readonly executionId?: string | undefined;
  /**
   * Initial properties, copied so that later changes to them do not reach the foundry: plain objects,
   * arrays, Maps, Sets, Dates and typed arrays (see copyProperties); class instances and clients are shared. @default {}
   */
  readonly properties?: P | undefined;
  /** Where the engine logs. @default a silent logger */
  readonly logger?: Logger | undefined;
  /** Where durable waits read the time and sleep; a test clock makes long waits pass at once. @default real time */
  readonly clock?: Clock | undefined;
}

/** Internal: how a smith runs a workflow on a foundry. */
export interface ExecuteRequest {
  readonly workflow: WorkflowInfo;
  readonly options: ForgeOptions;
  readonly compensation: CompensationSettings;
}

export const execute: unique symbol = Symbol("workflowforge.execute");
/** @internal Reports an event on a foundry: for extensions of this package (persistence), not for users. */
export const emitEvent: unique symbol = Symbol("workflowforge.emit");
/** @internal Runs a wait operation: through the run's wait host when an extension gave one, else in process. */
export const waitFor: unique symbol = Symbol("workflowforge.waitFor");
/** @internal Resolves once the run in progress (if any) has settled, cleanup included. */
export const whenIdle: unique symbol = Symbol("workflowforge.whenIdle");

// Foundries whose execution id was made up here: a run keyed by it cannot be found by another process.
const generatedIds = new WeakSet<object>();

/** @internal True when the foundry's `executionId` was generated rather than given. */
export function hasGeneratedExecutionId(foundry: object): boolean {
  return generatedIds.has(foundry);
}

const bareCompensation: CompensationSettings = { compensate: false, failFast: false, throwOnError: false, events: undefined };

/**
 * The execution context: an id, a typed property bag shared by all operations, a logger, an
 * ordered list of operations and an onion of operation middleware. `P` is `any` by default, so
 * that a plain `Foundry` annotation takes a foundry of any properties type (see OperationContext).
 */
export class Foundry<P extends object = any> {
  readonly name: string;
  readonly executionId: string;
  readonly logger: Logger;
  /** Where durable waits read the time and sleep. */
  readonly clock: Clock;
  /** Shared by every operation of every run on this foundry. Never holds engine bookkeeping. */
  properties: P;

  readonly #operations: Operation<any, any, P>[] = [];
  readonly #middleware: OperationMiddleware<P>[] = [];
  readonly #events: Emitter<FoundryEvents>;
  #run: Run | undefined;
  #settled: Promise<void> = Promise.resolve();

  constructor(name: string, init: FoundryInit<P>) {
    this.name = name;
    this.executionId = init.executionId ?? globalThis.crypto.randomUUID();
    if (init.executionId === undefined) generatedIds.add(this);
    this.logger = init.logger ?? silentLogger;
    this.clock = init.clock ?? systemClock;
    this.properties = copyProperties(name, init.properties);
    this.#events = new Emitter(this.logger, foundryEventNames, "foundry");
  }

  /** The operations a bare `forge()` runs, in order. */
  get operations(): readonly Operation<any, any, P>[] {
    return [...this.#operations];
  }

  /** The operation middleware, outermost first. */
  get middleware(): readonly OperationMiddleware<P>[] {
    return [...this.#middleware];
  }

  get isRunning(): boolean {
    return this.#run !== undefined;
  }

  /** The operation being executed, while a run is in progress. */
  get currentOperation(): { readonly name: string; readonly index: number } | undefined {
    const run = this.#run;
    const operation = run?.workflow.operations[run.currentIndex];
    return run && operation ? { name: operation.name, index: run.currentIndex } : undefined;
  }

  /** Adds an operation made from a function (and an optional restore) to this foundry; restore gets a `withRestoreData` result's `data`. */
  withOperation<TInput = any, TOutput = any, TData = any>(name: string, forge: ForgeFunction<TInput, RestoreDataResult<TOutput, TData>, P>, restore?: RestoreFunction<TData, P>): this;
  withOperation<TInput = any, TOutput = any>(name: string, forge: ForgeFunction<TInput, TOutput, P>, restore?: RestoreFunction<TOutput, P>): this;
  withOperation(name: string, forge: ForgeFunction<any, any, P>, restore?: RestoreFunction<any, P>): this {
    this.#assertIdle("withOperation");
    return this.addOperation(delegate(requireName(name, `${this.name}.withOperation(name)`), forge, restore));
  }

  addOperation(operation: Operation<any, any, P>): this {
    assertOperation(operation, `${this.name}.addOperation(operation)`);
    this.#assertIdle("addOperation");
    this.#operations.push(operation);
    return this;
  }

  /** Adds operation middleware; the first added is the outermost. */
  use(middleware: OperationMiddleware<P>): this {
    requireFunction(middleware, `${this.name}.use(middleware)`);
    refuseFactory(middleware, `${this.name}.use(middleware)`);
    if (middleware.start !== undefined) requireFunction(middleware.start, `${this.name}.use(middleware): middleware.start`);
    this.#assertIdle("use");
    this.#middleware.push(middleware);
    return this;
  }

  on<K extends keyof FoundryEvents>(event: K, listener: Listener<FoundryEvents[K]>): () => void {
    return this.#events.on(event, listener);
  }

  /**
   * Runs this foundry's own operations in order. Resolves with the last operation's output.
   *
   * **It does not compensate.** When an operation fails, no `restore` runs: the operations that
   * completed stay done and the run rejects with `OperationFailedError` (the thrown value is its
   * `cause`; with `usePersistence` the snapshot keeps the last checkpoint, so a later run with the
   * same keys resumes at the failed operation).
   * To undo completed operations in reverse order on failure, build the operations as a workflow
   * and run it with a smith: `createSmith().forge(workflow, foundry)`. Compensation is a
   * workflow-level policy (whether to stop at the first failed restore, whether a failed restore
   * rejects, the compensation events), set in `createSmith(options)`; a bare foundry is a plain
   * sequence with no such settings.
   */
  forge<T = unknown>(options: ForgeOptions = {}): Promise<T> {
    const workflow: WorkflowInfo = { id: this.name, name: this.name, version: undefined, operations: this.operations };
    return this[execute]({ workflow, options, compensation: bareCompensation }) as Promise<T>;
  }

  /**
   * A key that is the same on every execution of the current operation of this instance, to pass
   * to external systems that deduplicate (payments, emails). Operations run at least once. In a
   * `restore`, the key of the operation being restored (pass a suffix to tell the two calls apart).
   * An operation a timeout gave up on gets its own from the foundry it was given, not from this one.
   */
  idempotencyKey(suffix?: string): string {
    const run = this.#run;
    if (run === undefined || run.currentIndex < 0) {
      throw new TypeError(`${this.name}.idempotencyKey() can only be called while an operation runs`);
    }
    return idempotencyKeyOf(run.identity, run.currentIndex, suffix);
  }

  /** @internal Runs `workflow` on this foundry. */
  async [execute](request: ExecuteRequest): Promise<unknown> {
    checkForgeOptions(request.options, `${this.name}.forge(options)`);
    if (this.#run !== undefined) {
      throw new FoundryBusyError("CONCURRENT_RUN", this.name, "forge() was called again before the previous run settled");
    }
    const run = new Run({
      foundry: this,
      workflow: request.workflow,
      middleware: [...this.#middleware],
      emitter: this.#events,
      input: request.options.input,
      signal: request.options.signal ?? neverAborted,
      compensation: request.compensation,
    });
    this.#run = run;
    let settled = (): void => undefined;
    this.#settled = new Promise((resolve) => (settled = resolve));
    let outcome: RunOutcome = { ok: false, error: undefined };
    try {
      const output = await run[runOperations]();
      outcome = { ok: true, output };
      return output;
    } catch (error) {
      outcome = { ok: false, error };
      throw error;
    } finally {
      // The run is over only once its extensions let go (a lease renewal in flight lands first),
      // so nothing is written on its behalf after forge settles.
      await run[settleRun](outcome);
      this.#run = undefined;
      settled();
    }
  }

  /** @internal */
  [waitFor](spec: WaitSpec, input: unknown, signal: AbortSignal): Promise<unknown> {
    const run = this.#run;
    const index = run?.currentIndex ?? -1;
    const host = run?.waitHost;
    if (host !== undefined) return host.wait({ index, spec, input, signal });
    const operationName = run?.workflow.operations[index]?.name;
    return waitInProcess(spec, input, this.clock, signal, { workflowName: run?.workflow.name ?? this.name, operationName, operationIndex: index });
  }

  /** @internal */
  [whenIdle](): Promise<void> {
    return this.#settled;
  }

  /** @internal Lets this package's extensions report events on this foundry: `payload(of)` is built only when someone listens. */
  [emitEvent]<K extends keyof FoundryEvents, T>(event: K, payload: (of: T) => FoundryEvents[K], of: T): void {
    if (this.#events.has(event)) this.#events.emit(event, payload(of));
  }

  #assertIdle(what: string): void {
    if (this.#run !== undefined) {
      throw new FoundryBusyError("MODIFIED_WHILE_RUNNING", this.name, `${what}() cannot change a foundry while it runs`);
    }
  }
}

/** Validates the options of a run, naming the call that received them. */
export function checkForgeOptions(options: unknown, what: string): void {
  rejectUnknownKeys(requireOptionsObject(options, what), ["input", "signal"], what);
  requireOptionalSignal((options as ForgeOptions | undefined)?.signal, `${what}.signal`);
}

export function assertOperation(operation: unknown, what: string): asserts operation is Operation {
  if (typeof operation !== "object" || operation === null) {
    throw new TypeError(`${what}: operation must be an object with a name and a forge function`);
  }
  const candidate = operation as Partial<Operation>;
  requireName(candidate.name, `${what}: operation.name`);
  requireFunction(candidate.forge, `${what}: operation "${candidate.name}".forge`);
  if (candidate.restore !== undefined) requireFunction(candidate.restore, `${what}: operation "${candidate.name}".restore`);
}

/**
 * Creates a foundry. `P` types the property bag shared by its operations. `init.properties` stays
 * optional whatever `P` requires: a run that resumes restores the stored properties.
 */
export function createFoundry<P extends object = Properties>(name: string, init: FoundryInit<P> = {}): Foundry<P> {
  requireName(name, "createFoundry(name)");
  const options = requireOptionsObject(init, "createFoundry(name, init)");
  rejectUnknownKeys(options, ["executionId", "properties", "logger", "clock"], "createFoundry(name, init)");
  if (init.clock !== undefined) requireClock(init.clock, "createFoundry(name, init).clock");
  if (init.logger !== undefined) requireLogger(init.logger, "createFoundry(name, init).logger");
  if (init.executionId !== undefined) requireName(init.executionId, "createFoundry(name, init).executionId");
  if (init.properties !== undefined) requirePlainBag(init.properties);
  return new Foundry<P>(name, init);
}
