import { linkedSignal, neverAborted } from "../abort.js";
import type { OperationContext } from "../types.js";

/**
 * What a run's operations are aborted by besides the run's own signal: under a lease, the claim
 * being lost; for a coordinator's run, its shutdown deadline. Store calls never see the deadline: a
 * checkpoint already under way must land.
 */
export class OperationSignals {
  // The sources joined, or undefined when there are none.
  readonly #own: AbortSignal | undefined;
  #joined: (JoinedSignal & { readonly base: AbortSignal }) | undefined;

  /** `sources` live no longer than the run (the claim's signal, the coordinator's attempt deadline). */
  constructor(sources: readonly (AbortSignal | undefined)[]) {
    const signals = sources.filter((signal) => signal !== undefined);
    this.#own = signals.length <= 1 ? signals[0] : linkShortLived(signals);
  }

  /**
   * The context operation `context` runs with: one whose signal also aborts with the sources, or
   * undefined when there are none.
   */
  contextFor(context: OperationContext<any>): OperationContext<any> | undefined {
    if (this.#own === undefined) return undefined;
    // Operations of a run share its signal: joined once, not per operation. A layer outside that
    // gives each operation a signal of its own (a timeout) has the last one's link undone first.
    if (this.#joined?.base !== context.signal) {
      this.#joined?.dispose();
      this.#joined = { base: context.signal, ...joinSignals(context.signal, this.#own) };
    }
    return { ...context, signal: this.#joined.signal };
  }

  /** The run settled: nothing stays attached to the caller's signal. */
  close(): void {
    this.#joined?.dispose();
    this.#joined = undefined;
  }
}

/** A signal joined to another, and the function that undoes the link. */
export interface JoinedSignal {
  readonly signal: AbortSignal;
  readonly dispose: () => void;
}

const nothingToUndo = (): void => undefined;

/**
 * A signal that aborts when `base` or `other` does, until `dispose`. A run given no signal has one
 * that never aborts: then `other` is that signal already. Linked, not AbortSignal.any: on Node 20
 * that keeps every signal it made reachable from `base`, the caller's signal that may be shared by
 * every run of the process, so each run would leave one behind.
 */
export function joinSignals(base: AbortSignal, other: AbortSignal): JoinedSignal {
  return base === neverAborted ? { signal: other, dispose: nothingToUndo } : linkedSignal([base, other]);
}

// Linked by one listener on each, never removed: they go with the sources, which the run owns.
function linkShortLived(sources: readonly AbortSignal[]): AbortSignal {
  const controller = new AbortController();
  for (const source of sources) {
    if (source.aborted) {
      controller.abort(source.reason);
      break;
    }
    source.addEventListener("abort", () => controller.abort(source.reason), { once: true });
  }
  return controller.signal;
}
