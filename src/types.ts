import type { Foundry } from "./foundry.js";

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

/**
 * One step of a workflow. `forge` receives the previous operation's output (or the run's input for
 * the first operation) and returns this operation's output. `restore` undoes the step during
 * compensation and receives what `forge` returned.
 */
export interface Operation<TInput = any, TOutput = any, P extends object = any> {
  readonly name: string;
  forge(input: TInput, foundry: Foundry<P>, signal: AbortSignal): MaybePromise<TOutput>;
  restore?(output: TOutput, foundry: Foundry<P>, signal: AbortSignal): MaybePromise<unknown>;
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
  started?(progress: CompensationProgress): MaybePromise<void>;
  restored?(progress: CompensationProgress): MaybePromise<void>;
  completed?(progress: CompensationProgress): MaybePromise<void>;
}

/** The run an operation belongs to. One object per `forge` call; middleware may key state on it. */
export interface RunContext {
  readonly workflow: WorkflowInfo;
  /** Whether a failure in this run is compensated (true under a smith). */
  readonly compensates: boolean;
  /** Follow this run's compensation. Returns an unsubscribe function. */
  observeCompensation(observer: CompensationObserver): () => void;
  /**
   * Calls `callback` once when the run is over, however it ends (for timers an extension started).
   * The run's promise settles after the promise `callback` returns.
   */
  onSettled(callback: () => void | Promise<void>): void;
  /**
   * The keys that identify this run for idempotency. Defaults to the foundry's execution id and
   * the workflow's id; persistence replaces them with its own keys.
   */
  identity: { readonly instanceId: string; readonly workflowKey: string };
}

/** Everything an operation middleware sees. */
export interface OperationContext<P extends object = Properties> {
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
 */
export type OperationMiddleware<P extends object = any> = (
  context: OperationContext<P>,
  next: (context?: OperationContext<P>) => Promise<unknown>,
) => MaybePromise<unknown>;

/** Everything a workflow middleware sees. */
export interface WorkflowContext<P extends object = Properties> {
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
  readonly signal?: AbortSignal;
}
