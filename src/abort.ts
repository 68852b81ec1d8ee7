import { WorkflowAbortedError, type ErrorLocation } from "./errors.js";
import { nodeBuiltin } from "./internal/node-builtin.js";

// Looked up once: linkedSignal marks a new source per timed operation, forEach and leased run.
let setMaxListeners: ((count: number, ...targets: EventTarget[]) => void) | undefined;

/**
 * Lets `signal` take any number of listeners without Node.js printing a
 * MaxListenersExceededWarning (its limit is ten): for the signals this library shares between
 * concurrent runs, which hold one listener per run in progress by design, each removed when that
 * run ends. Returns `signal`.
 */
export function sharedSignal(signal: AbortSignal): AbortSignal {
  setMaxListeners ??= nodeBuiltin<{ setMaxListeners: (count: number, ...targets: EventTarget[]) => void }>("node:events")?.setMaxListeners ?? (() => undefined);
  setMaxListeners(0, signal);
  return signal;
}

/** A signal that never aborts, shared so runs without a signal allocate nothing. */
export const neverAborted: AbortSignal = sharedSignal(new AbortController().signal);

// The reasons this library aborts with (a timeout, a lost claim, a forEach sibling's failure),
// which a run rejects with as they are. Any other reason, an engine error of another run included
// (a caller aborting siblings with the first one's failure), is the cause of a WorkflowAbortedError:
// taken as it is, it would be this run's failure, located in another workflow.
const ownReasons = new WeakSet<Error>();

/** Aborts `controller` with `reason`, which the runs it stops reject with as it is (see {@link abortError}). */
export function abortWith(controller: AbortController, reason: Error): void {
  ownReasons.add(reason);
  controller.abort(reason);
}

/** The error a run rejects with once its signal aborted: a reason given to {@link abortWith} as it is, any other wrapped. */
export function abortError(signal: AbortSignal, location: ErrorLocation): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && ownReasons.has(reason)) return reason;
  return new WorkflowAbortedError(location, reason);
}

/** Resolves after `ms`, or rejects with the signal's abort error as soon as it aborts. */
export function sleep(ms: number, signal: AbortSignal, location: ErrorLocation): Promise<void> {
  if (signal.aborted) return Promise.reject(abortError(signal, location));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal, location));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Settles with `work`, or rejects with `error()` when `signal` aborts first. Used by timeouts, which
 * must give up on work that ignores its signal.
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal, error: () => Error): Promise<T> {
  if (signal.aborted) return Promise.reject(error());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(error());
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (reason: unknown) => {
        signal.removeEventListener("abort", onAbort);
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- forwards the work's own rejection unchanged
        reject(reason);
      },
    );
  });
}

// Sources linkedSignal marked shared: a caller's signal given to many runs at once holds one
// listener per run in progress, each removed when its run ends (no leak, so no warning).
const linkedSources = new WeakSet<AbortSignal>();

/**
 * A signal that aborts when any of `signals` does, linked through one listener on each that
 * `dispose` removes. Unlike `AbortSignal.any`, nothing stays attached to a long-lived source once
 * disposed, so linking a short task to a signal that lives as long as the process leaks nothing.
 */
export function linkedSignal(signals: readonly AbortSignal[]): { readonly signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const cleanups: (() => void)[] = [];
  const dispose = (): void => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  };
  for (const source of signals) {
    if (source === neverAborted) continue;
    if (source.aborted) {
      controller.abort(source.reason);
      break;
    }
    if (!linkedSources.has(source)) linkedSources.add(sharedSignal(source));
    const abort = (): void => {
      controller.abort(source.reason);
      dispose();
    };
    source.addEventListener("abort", abort, { once: true });
    cleanups.push(() => source.removeEventListener("abort", abort));
  }
  if (controller.signal.aborted) dispose();
  return { signal: controller.signal, dispose };
}
