import type { Emitter, FoundryEvents } from "./events.js";
import { outputOf } from "./outcome.js";
import type { OperationContext, WorkflowInfo } from "./types.js";

type OperationEvent = "operationStarted" | "operationCompleted" | "operationFailed" | "operationSkipped";

/**
 * The lifecycle events of one run's operations, each outcome reported once. Every call of an
 * operation gets a token; a new call, a new operation and the run's end each take the current one
 * away, so a call a timeout gave up on reports nothing when it settles late: the run went on without
 * it, and must still report the failure of whatever it moved on to.
 */
export class OperationReports {
  // Whether the innermost layer already reported the current operation's outcome.
  #reported = false;
  #call = 0;
  // When the current call started, for a failure the run reports itself (a timeout gave up on it).
  #started: number | undefined;
  readonly #emitter: Emitter<FoundryEvents>;
  readonly #workflow: WorkflowInfo;

  constructor(emitter: Emitter<FoundryEvents>, workflow: WorkflowInfo) {
    this.#emitter = emitter;
    this.#workflow = workflow;
  }

  /** Whether anyone listens to outcomes: without listeners a call need not be awaited here. */
  get observed(): boolean {
    return this.#emitter.has("operationCompleted") || this.#emitter.has("operationFailed");
  }

  /** The run moved on (to operation `index`, or to its end): calls in progress no longer report. */
  moveOn(): void {
    this.#reported = false;
    this.#started = undefined;
    this.#call++;
  }

  /**
   * The run failed at operation `index` with `error` (undefined for a suspension, which is no
   * failure): reported unless its call did, with how long that call ran (0 when a middleware
   * failed it before it started). The run moves on: a call a timeout gave up on reports nothing
   * when it settles during the compensation.
   */
  runFailed(index: number, error: Error | undefined): void {
    if (!this.#reported && error !== undefined) this.emit("operationFailed", index, { error, durationMs: this.#started === undefined ? 0 : performance.now() - this.#started });
    this.moveOn();
  }

  /** A call whose outcome nobody listens to: the run reports no failure for it either. */
  unobserved(): void {
    this.#call++;
    this.#reported = true;
  }

  /** Awaits a call of operation `index`, telling `ended` how it settled, and reporting its outcome (a suspension is none) if it is still the current call. */
  async observe(index: number, forge: () => unknown, failure: (thrown: unknown) => unknown, suspends: (error: unknown) => boolean, ended: (completed: boolean, result: unknown) => void): Promise<unknown> {
    const call = ++this.#call;
    const started = performance.now();
    this.#started = started;
    let result: unknown;
    try {
      result = await forge();
    } catch (thrown) {
      ended(false, undefined);
      const error = failure(thrown);
      if (call !== this.#call) throw error;
      this.#reported = true;
      if (this.#emitter.has("operationFailed") && !suspends(error)) this.emit("operationFailed", index, { error, durationMs: performance.now() - started });
      throw error;
    }
    ended(true, result);
    if (call !== this.#call) return result;
    this.#reported = true;
    if (this.#emitter.has("operationCompleted")) this.emit("operationCompleted", index, { output: outputOf(result), durationMs: performance.now() - started });
    return result;
  }

  emit<K extends OperationEvent>(event: K, index: number, extra: Omit<FoundryEvents[K], "workflowName" | "operationName" | "index">): void {
    if (!this.#emitter.has(event)) return;
    const operationName = (this.#workflow.operations[index] as OperationContext["operation"]).name;
    this.#emitter.emit(event, { workflowName: this.#workflow.name, operationName, index, ...extra } as FoundryEvents[K]);
  }
}
