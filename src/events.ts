import { isThenable } from "./internal/thenable.js";
import { logSafely } from "./logger.js";
import type { Logger } from "./types.js";

interface OperationEvent {
  readonly workflowName: string;
  readonly operationName: string;
  readonly index: number;
}

/**
 * The events of a foundry. An extension adds its own by declaration merging (persistence adds
 * `snapshotRestored`, `snapshotSaved` and `snapshotDeleted`); see docs/extensions.md.
 */
export interface FoundryEvents {
  operationStarted: OperationEvent & { readonly input: unknown };
  operationCompleted: OperationEvent & { readonly output: unknown; readonly durationMs: number };
  operationFailed: OperationEvent & { readonly error: unknown; readonly durationMs: number };
  /** A resumed run passed over an operation completed by an earlier run. */
  operationSkipped: OperationEvent;
}

interface WorkflowEvent {
  readonly workflowName: string;
  readonly executionId: string;
}

/** The events of a smith, around whole workflow runs and their compensation. */
export interface SmithEvents {
  workflowStarted: WorkflowEvent;
  workflowCompleted: WorkflowEvent & { readonly output: unknown; readonly durationMs: number };
  workflowFailed: WorkflowEvent & { readonly error: unknown; readonly durationMs: number };
  /** The run stopped at a durable wait (`WorkflowSuspendedError`): not a failure. */
  workflowSuspended: WorkflowEvent & { readonly error: unknown; readonly durationMs: number };
  compensationStarted: WorkflowEvent & { readonly error: unknown; readonly pending: number };
  operationRestored: OperationEvent;
  operationRestoreFailed: OperationEvent & { readonly error: unknown };
  /** The compensation ended: `failures` restores threw, and `left` operations were not restored (fail-fast stopped at a failure). */
  compensationCompleted: WorkflowEvent & { readonly failures: number; readonly left: number };
}

/**
 * The names `foundry.on` knows: the engine's, and those persistence reports (SPEC §2 names them all).
 * No one else reports on a foundry (docs/extensions.md), so any other name is a mistake, a typo
 * whose listener would never be called.
 */
export const foundryEventNames: readonly string[] = ["operationStarted", "operationCompleted", "operationFailed", "operationSkipped", "snapshotRestored", "snapshotSaved", "snapshotDeleted"];

/** The names `smith.on` knows. */
export const smithEventNames: readonly (keyof SmithEvents)[] = ["workflowStarted", "workflowCompleted", "workflowFailed", "workflowSuspended", "compensationStarted", "operationRestored", "operationRestoreFailed", "compensationCompleted"];

/**
 * A function `on(event, listener)` calls with the event's payload. It may be async: the run does
 * not wait for it, and a rejection is logged as a throw is.
 */
export type Listener<T> = (payload: T) => unknown;

/**
 * A minimal typed emitter. A throwing listener is logged and never breaks the run that emitted.
 */
export class Emitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>();
  readonly #logger: Logger;
  readonly #names: readonly string[];
  readonly #owner: string;

  /** `names` are the events `on` accepts; `owner` ("foundry", "smith") names the emitter in a refusal. */
  constructor(logger: Logger, names: readonly string[], owner: string) {
    this.#logger = logger;
    this.#names = names;
    this.#owner = owner;
  }

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    if (typeof event !== "string" || !this.#names.includes(event)) {
      const shown = typeof event === "string" ? JSON.stringify(event) : String(event);
      throw new TypeError(`${this.#owner}.on(${shown}, listener): no such event; a ${this.#owner} reports ${this.#names.join(", ")}`);
    }
    if (typeof listener !== "function") {
      throw new TypeError(`on("${event}", listener): listener must be a function, got ${typeof listener}`);
    }
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /** Cheap check so hot paths can skip building a payload nobody listens to. */
  has(event: keyof Events): boolean {
    const set = this.#listeners.get(event);
    return set !== undefined && set.size > 0;
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    // The listeners as they were when the event happened, as EventTarget calls them: one added by
    // a listener waits for the next event (one that adds itself again would otherwise loop
    // forever), and one removed by a listener is not called.
    for (const listener of [...set]) {
      if (!set.has(listener)) continue;
      try {
        const returned = (listener as Listener<Events[K]>)(payload);
        // An async listener's failure is a rejection: logged like a throw, never an unhandled
        // rejection that would end the process. The run does not wait for it.
        if (isThenable(returned)) returned.then(undefined, (error: unknown) => logSafely(this.#logger, "error", `listener for "${String(event)}" threw`, error));
      } catch (error) {
        logSafely(this.#logger, "error", `listener for "${String(event)}" threw`, error);
      }
    }
  }
}
