import { compose } from "./compose.js";
import type { CompensationSettings } from "./compensation.js";
import { MiddlewareError, WorkflowTimeoutError, isSuspended, isWorkflowForgeError } from "./errors.js";
import { Emitter, smithEventNames, type Listener, type SmithEvents } from "./events.js";
import { assertOperation, checkForgeOptions, execute, type Foundry } from "./foundry.js";
import { abortWith, linkedSignal, neverAborted, raceAbort } from "./abort.js";
import { requireFunction, requireOptionalBoolean, requireOptionsObject, requireTimerMs, rejectUnknownKeys } from "./internal/validate.js";
import { requireLogger, silentLogger } from "./logger.js";
import type { ForgeOptions, Logger, WorkflowContext, WorkflowMiddleware } from "./types.js";
import type { Workflow } from "./workflow.js";
import { refuseFactory } from "./middleware/factories.js";
import { requireFoundry } from "./foundry-check.js";

export interface SmithOptions {
  /** Stop compensating at the first restore that fails. @default false */
  readonly failFastCompensation?: boolean | undefined;
  /** Reject with `CompensationError` (cause: the original failure) when a restore fails. @default false */
  readonly throwOnCompensationError?: boolean | undefined;
  /**
   * Abort the whole run after this many milliseconds and reject with `WorkflowTimeoutError`, whose
   * `cause` is the operation's failure when it fires while that failure is compensated.
   * @default undefined (no limit)
   */
  readonly timeoutMs?: number | undefined;
  /** Where listener failures are logged. @default a silent logger */
  readonly logger?: Logger | undefined;
}

export interface Smith {
  /**
   * Runs `workflow` on `foundry` with the foundry's properties, middleware and events. When an
   * operation fails, completed operations are restored in reverse order and the failure rethrown.
   */
  forge<T = unknown>(workflow: Workflow<any>, foundry: Foundry<any>, options?: ForgeOptions): Promise<T>;
  /** Adds workflow middleware; the first added is the outermost. */
  use(middleware: WorkflowMiddleware): Smith;
  on<K extends keyof SmithEvents>(event: K, listener: Listener<SmithEvents[K]>): () => void;
}

/** Creates a smith: runs workflows with workflow middleware, events and compensation. */
export function createSmith(options: SmithOptions = {}): Smith {
  const bag = requireOptionsObject(options, "createSmith(options)");
  rejectUnknownKeys(bag, ["failFastCompensation", "throwOnCompensationError", "timeoutMs", "logger"], "createSmith(options)");
  requireOptionalBoolean(options.failFastCompensation, "createSmith(options).failFastCompensation");
  requireOptionalBoolean(options.throwOnCompensationError, "createSmith(options).throwOnCompensationError");
  if (options.timeoutMs !== undefined) requireTimerMs(options.timeoutMs, "createSmith(options).timeoutMs");
  if (options.logger !== undefined) requireLogger(options.logger, "createSmith(options).logger");
  const events = new Emitter<SmithEvents>(options.logger ?? silentLogger, smithEventNames, "smith");
  const middleware: WorkflowMiddleware[] = [];
  const compensation: CompensationSettings = {
    compensate: true,
    failFast: options.failFastCompensation ?? false,
    throwOnError: options.throwOnCompensationError ?? false,
    events,
  };

  const coreWith =
    (settings: CompensationSettings) =>
    (context: WorkflowContext<any>): Promise<unknown> =>
      context.foundry[execute]({ workflow: context.workflow, options: { input: context.input, signal: context.signal }, compensation: settings });
  const core = coreWith(compensation);
  const chainOf = (workflowName: string, inner: typeof core) => compose(middleware, inner, (_, layer, problem) => new MiddlewareError({ workflowName }, `workflow middleware #${layer} ${problem}`));

  const run = async (context: WorkflowContext<any>): Promise<unknown> => {
    if (options.timeoutMs === undefined) return chainOf(context.workflow.name, core)(context);
    const { timeoutMs } = options;
    // Per run, and only under a timeout: the failure the run compensates for, if it does, is the timeout's cause.
    let failure: { readonly cause: unknown } | undefined;
    const inner = coreWith({ ...compensation, started: (error) => void (failure = { cause: compensatedFor(error) }) });
    const controller = new AbortController();
    const timer = setTimeout(() => abortWith(controller, new WorkflowTimeoutError(context.workflow.name, timeoutMs, failure)), timeoutMs);
    // Linked, not AbortSignal.any, which on Node 20 leaves each run's signal reachable from the caller's.
    const linked = linkedSignal([context.signal, controller.signal]);
    try {
      return await raceAbort(chainOf(context.workflow.name, inner)({ ...context, signal: linked.signal }), controller.signal, () => controller.signal.reason as Error);
    } finally {
      clearTimeout(timer);
      linked.dispose();
    }
  };

  const smith: Smith = {
    async forge<T>(workflow: Workflow<any>, foundry: Foundry<any>, forgeOptions: ForgeOptions = {}): Promise<T> {
      assertWorkflow(workflow);
      requireFoundry(foundry, "smith.forge(workflow, foundry): foundry");
      checkForgeOptions(forgeOptions, "smith.forge(workflow, foundry, options)");
      const signal = forgeOptions.signal ?? neverAborted;
      const base = { workflowName: workflow.name, executionId: foundry.executionId };
      events.emit("workflowStarted", base);
      const started = performance.now();
      try {
        const output = await run({ workflow, foundry, input: forgeOptions.input, signal });
        events.emit("workflowCompleted", { ...base, output, durationMs: performance.now() - started });
        return output as T;
      } catch (error) {
        events.emit(isSuspended(error) ? "workflowSuspended" : "workflowFailed", { ...base, error, durationMs: performance.now() - started });
        throw error;
      }
    },
    use(layer) {
      requireFunction(layer, "smith.use(middleware)");
      refuseFactory(layer, "smith.use(middleware)");
      middleware.push(layer);
      return smith;
    },
    on: (event, listener) => events.on(event, listener),
  };
  return smith;
}

// What a compensation undoes: a resumed one is handed the WorkflowCompensatedError it will end
// with, which says it is over; the failure is that error's cause.
function compensatedFor(error: Error): unknown {
  return isWorkflowForgeError(error) && error.code === "WORKFLOW_COMPENSATED" && error.cause !== undefined ? error.cause : error;
}

// Checked whole before anything runs: a malformed operation found when the run reaches it would
// fail the run after the operations before it had their effects (and were compensated).
function assertWorkflow(workflow: unknown): asserts workflow is Workflow {
  const where = "smith.forge(workflow, foundry): workflow";
  const candidate = workflow as Partial<Workflow> | undefined;
  if (typeof candidate !== "object" || candidate === null) throw new TypeError(`${where} must be built with createWorkflow(...).build()`);
  const missing = typeof candidate.id !== "string" ? "id" : typeof candidate.name !== "string" ? "name" : Array.isArray(candidate.operations) ? undefined : "operations";
  if (missing !== undefined) throw new TypeError(`${where} must be built with createWorkflow(...).build(): its ${missing} is missing or of the wrong type`);
  // Indices, not forEach: a hole in the array is an operation missing too.
  const operations = candidate.operations as readonly unknown[];
  for (let index = 0; index < operations.length; index++) assertOperation(operations[index], `${where}.operations[${index}]`);
}
