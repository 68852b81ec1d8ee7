import type { Foundry } from "./foundry.js";
import type { WaitHost, WaitSpec } from "./waits.js";

/** The shape every property bag satisfies. Give your own interface to `createFoundry<P>()`. */
export type Properties = Record<string, unknown>;

/** A value or a promise of it: operations, restores and middleware may be sync or async. */
export type MaybePromise<T> = T | Promise<T>;

/** Console-like logger. The default is silent. */
export interface Logger {
  debug(message: string, ...details: unknown[]): void;
  info(message: string, ...details: unknown[]): void;
  warn(message: string, ...details: unknown[]): void;
  error(message: string, ...details: unknown[]): void;
}

/** An operation's `forge`, as `withOperation` and `delegate` take it. */
export type ForgeFunction<TInput, TOutput, P extends object> = (input: TInput, foundry: Foundry<P>, signal: AbortSignal) => MaybePromise<TOutput>;

/** An operation's `restore`, given what `forge` returned: the `data` of a `withRestoreData` result. */
export type RestoreFunction<TData, P extends object> = (output: TData, foundry: Foundry<P>, signal: AbortSignal) => MaybePromise<unknown>;

/**
 * One step of a workflow. `forge` receives the previous operation's output (or the run's input for
 * the first operation) and returns this operation's output. `restore` undoes the step during
 * compensation and receives what `forge` returned.
 */
export interface Operation<TInput = any, TOutput = any, P extends object = any> {
  readonly name: string;
  forge(input: TInput, foundry: Foundry<P>, signal: AbortSignal): MaybePromise<TOutput>;
  restore?(output: TOutput, foundry: Foundry<P>, signal: AbortSignal): MaybePromise<unknown>;
  /** Set by `sleep`, `sleepUntil` and `waitForEvent`: what the operation waits for. */
  readonly wait?: WaitSpec;
}

/** What a workflow run is executing: the workflow's identity and its operations, in order. */
export interface WorkflowInfo {
  /** Stable for the same name and version. For a bare foundry, the foundry's name. */
  readonly id: string;
  readonly name: string;
  readonly version: string | undefined;
  readonly operations: readonly Operation[];
}

/** Progress of a compensation, reported to {@link CompensationObserver}s. */
export interface CompensationProgress {
  /** Operations `[0, pending)` still have to be restored, from `pending - 1` down to 0. */
  readonly pending: number;
  /** The failure being compensated. */
  readonly error: unknown;
}

/**
 * Lets an extension (persistence) follow a compensation and make it durable. A rejection from any
 * hook stops the compensation and becomes the run's error.
 */
export interface CompensationObserver {
  /**
   * `restoreData[i]` is what operation i's restore will receive: an observer that stores progress
   * stores it for operations it never saw complete (one a layer failed after it completed).
   */
  started?(progress: CompensationProgress & { readonly restoreData: readonly unknown[] }): MaybePromise<void>;
  /**
   * The restore of operation `pending` failed with `failure`: called before `restored` for it, or
   * instead, when `failFastCompensation` stops the compensation there.
   */
  restoreFailed?(progress: CompensationProgress & { readonly failure: unknown }): MaybePromise<void>;
  restored?(progress: CompensationProgress): MaybePromise<void>;
  completed?(progress: CompensationProgress): MaybePromise<void>;
}

/** The two keys that identify a workflow instance (persistence's `instanceId` and `workflowKey`). */
export interface InstanceIdentity {
  readonly instanceId: string;
  readonly workflowKey: string;
}

/**
 * A small string map an extension keeps with a run: persistence stores it in the snapshot and
 * gives it back to the run that resumes the instance, in whatever process. At most 32 keys; a key
 * and a value each at most 1,024 characters. `set` throws `TypeError` for a key or value that is
 * not a string and `AnnotationLimitError` past the limits. Prefix keys with your extension's name.
 */
export interface RunAnnotations {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
  delete(key: string): boolean;
  readonly size: number;
  entries(): IterableIterator<[string, string]>;
}

/** Where {@link RunContext.resumeAt} continues from: what the completed operations left. */
export interface ResumePoint {
  /** The output of the operation before the resume index: the input of the first one that runs (at 0, when not undefined, in place of the run's own). */
  readonly lastOutput?: unknown;
  /** What each completed operation's `restore` receives, by operation index. */
  readonly restoreData?: Readonly<Record<number, unknown>>;
}

/**
 * The run an operation belongs to. One object per run; middleware may key state on it. The
 * methods that decide how the run starts (`setIdentity`, `resumeAt`, `resumeCompensation`) may be
 * called only from a middleware's `start` hook, before operation 0; they throw `MiddlewareError`
 * afterwards. See docs/extensions.md.
 */
export interface RunContext {
  readonly workflow: WorkflowInfo;
  /** Whether a failure in this run is compensated (true under a smith). */
  readonly compensates: boolean;
  /**
   * The keys that identify this run for idempotency. Defaults to the foundry's execution id and
   * the workflow's id; persistence replaces them with its own keys through {@link setIdentity}.
   */
  readonly identity: InstanceIdentity;
  /** Durable annotations: stored with the snapshot under persistence, restored on resume. */
  readonly annotations: RunAnnotations;
  /** What each operation that completed (or was passed over) leaves its `restore`, by index. Read only. */
  readonly restoreData: readonly unknown[];
  /** Replaces {@link identity}. Once per run, from a `start` hook. */
  setIdentity(identity: InstanceIdentity): void;
  /**
   * Operations `[0, index)` completed in an earlier run: the run passes over them without calling
   * the middleware chain (emitting `operationSkipped` for each) and runs operation `index` with
   * `point.lastOutput` as its input. `index` may equal the number of operations: then nothing
   * runs and the run resolves with `lastOutput`. Once per run, from a `start` hook.
   */
  resumeAt(index: number, point?: ResumePoint): void;
  /**
   * An earlier run stopped while compensating: this run runs no operation and restores operations
   * `[0, pending)` (from `pending - 1` down), then rejects with `error`. Once per run, from a
   * `start` hook.
   */
  resumeCompensation(pending: number, error: Error, restoreData?: Readonly<Record<number, unknown>>): void;
  /** Follow this run's compensation. Returns an unsubscribe function. */
  observeCompensation(observer: CompensationObserver): () => void;
  /**
   * Calls `callback` once when the run is over, however it ends (for timers an extension started),
   * with its outcome: what the run resolves with, or what it rejects with (after every layer, so a
   * checkpoint that failed after the last operation completed is the run's error). The run's
   * promise settles after the promise `callback` returns.
   */
  onSettled(callback: (outcome: RunOutcome) => void | Promise<void>): void;
  /** Makes this run's wait operations durable (persistence does, from its start hook). Once per run. */
  provideWaits(host: WaitHost): void;
}

/** How a run ended, as {@link RunContext.onSettled} reports it: the run's own result, after every layer. */
export type RunOutcome = { readonly ok: true; readonly output: unknown } | { readonly ok: false; readonly error: unknown };

// The contexts default their properties to `any`, as the middleware types do: code written against
// the plain `OperationContext` fits a foundry of any properties type, an interface's included (an
// interface has no index signature, so it is no `Record<string, unknown>`).

/** What a middleware's `start` hook receives: the run, before its first operation. */
export interface RunStart<P extends object = any> {
  readonly run: RunContext;
  readonly foundry: Foundry<P>;
  /** The run's input: the first operation's input unless the run resumes. */
  readonly input: unknown;
  readonly signal: AbortSignal;
  /**
   * Leaves this middleware out of the run: its layer is not called for any of the run's
   * operations. For an extension with nothing to do in this run (a tracer with no SDK registered),
   * which then costs the run nothing per step.
   */
  readonly bypass: () => void;
}

/** Everything an operation middleware sees. */
export interface OperationContext<P extends object = any> {
  readonly operation: Operation;
  readonly index: number;
  readonly input: unknown;
  readonly foundry: Foundry<P>;
  readonly signal: AbortSignal;
  readonly run: RunContext;
}

/**
 * Operation middleware: an onion around every operation; the first added is the outermost.
 * Call `next()` at most once; pass a changed context (for example another `signal`) to `next`
 * to hand it to the inner layers.
 *
 * A middleware may carry a `start` hook: each run awaits the hooks of its middleware, in the order
 * they were added, before operation 0's chain runs (not for a run with no operation). A hook that
 * throws fails the run as operation 0 would.
 */
export interface OperationMiddleware<P extends object = any> {
  (context: OperationContext<P>, next: (context?: OperationContext<P>) => Promise<unknown>): MaybePromise<unknown>;
  start?: (context: RunStart<P>) => MaybePromise<void>;
}

/** Everything a workflow middleware sees. */
export interface WorkflowContext<P extends object = any> {
  readonly workflow: WorkflowInfo;
  readonly foundry: Foundry<P>;
  readonly input: unknown;
  readonly signal: AbortSignal;
}

/** Workflow middleware: an onion around a whole smith run. */
export type WorkflowMiddleware<P extends object = any> = (
  context: WorkflowContext<P>,
  next: (context?: WorkflowContext<P>) => Promise<unknown>,
) => MaybePromise<unknown>;

/** Options of a single run. */
export interface ForgeOptions {
  /** The first operation's input. @default undefined */
  readonly input?: unknown;
  /** Cancels the run: no operation starts after it aborts, and the run rejects with `AbortError`. */
  readonly signal?: AbortSignal | undefined;
}
