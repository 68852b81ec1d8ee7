import { neverAborted } from "../abort.js";
import type { OperationContext } from "../types.js";

/**
 * What a run's operations are aborted by besides the run's own signal: under a lease, the claim
 * being lost; for a coordinator's run, its shutdown deadline. Store calls never see the deadline: a
 * checkpoint already under way must land.
 */
export class OperationSignals {
  // The sources joined, or undefined when there are none.
  readonly #own: AbortSignal | undefined;
  #joined: { readonly base: AbortSignal; readonly signal: AbortSignal } | undefined;

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
    // Operations of a run share its signal: joined once, as AbortSignal.any is costly (weak refs, GC).
    if (this.#joined?.base !== context.signal) this.#joined = { base: context.signal, signal: joinSignals(context.signal, this.#own) };
    return { ...context, signal: this.#joined.signal };
  }
}

/**
 * A signal that aborts when `base` or `other` does. A run given no signal has one that never aborts:
 * then `other` is that signal already, sparing AbortSignal.any, whose weak references cost every
 * run collector time.
 */
export function joinSignals(base: AbortSignal, other: AbortSignal): AbortSignal {
  return base === neverAborted ? other : AbortSignal.any([base, other]);
}

// Linked by one listener on each, never removed: they go with the sources, which the run owns.
// AbortSignal.any would cost weak references; a listener on a long-lived signal would leak.
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
