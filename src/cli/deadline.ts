import { whileBusy } from "./busy.js";
import type { Duration } from "./duration.js";
import { CliError } from "./errors.js";
import type { InstanceActions } from "./instance-actions.js";
import type { InspectedProvider } from "./stores.js";

/**
 * What `start(signal)` resolves with, or a `TIMEOUT` CliError with `message()` once `timeout` (a
 * duration, or milliseconds) has passed. The signal is then aborted with that error as its reason,
 * so that work able to stop stops; work that cannot (a request sent to a server that never
 * answers) is abandoned, and a failure it reports later is ignored. Closing the connection is the
 * caller's part. With no time left, `start` is not called at all.
 */
export function within<T>(timeout: Duration | number, message: () => string, start: (signal: AbortSignal) => Promise<T> | T): Promise<T> {
  const ms = typeof timeout === "number" ? timeout : timeout.ms;
  if (ms <= 0) return Promise.reject(new CliError("TIMEOUT", message()));
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new CliError("TIMEOUT", message());
      controller.abort(error);
      reject(error);
    }, ms);
  });
  const work = new Promise<T>((run) => run(start(controller.signal)));
  // A failure after the deadline has no one left to tell.
  work.catch(() => undefined);
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/** The milliseconds the next call may take: all of --timeout (a CLI command's), or what an inspector request has left of it. */
export type Budget = () => number;

/** How the calls of one store are bounded. */
export interface Bounds {
  readonly budget: Budget;
  /** The error message for the call (`list`, `read`, `delete`...) that ran out of time. */
  readonly late: (call: string) => string;
  /** A failure that passes if the call is tried again shortly (SQLite's lock): retried until the budget is spent. */
  readonly busy?: ((error: unknown) => boolean) | undefined;
  /** Called when a call ran out of time: the connection it waits on may have gone silent. */
  readonly onLate?: (() => void) | undefined;
}

/** The provider with every call bounded by `bounds`, and given the signal that says when it is late. */
export function boundedProvider(provider: InspectedProvider, bounds: Bounds): InspectedProvider {
  const bounded = bounding(bounds);
  return {
    capabilities: provider.capabilities,
    list: (filter, _signal, options) => bounded("list", (signal) => provider.list(filter, signal, options)),
    tryLoad: (instance, key) => bounded("read", (signal) => provider.tryLoad(instance, key, signal)),
    delete: (instance, key) => bounded("delete", (signal) => provider.delete(instance, key, signal)),
    save: (snapshot) => bounded("save", (signal) => provider.save(snapshot, signal)),
  };
}

/** `signal` and `cancel` bounded as {@link boundedProvider} bounds the provider's calls. */
export function boundedActions(actions: InstanceActions, bounds: Bounds): InstanceActions {
  const bounded = bounding(bounds);
  return {
    mailbox: actions.mailbox,
    signal: (keys, event) => bounded("signal", (signal) => actions.signal(keys, event, signal)),
    cancel: (keys, compensate) => bounded("cancel", (signal) => actions.cancel(keys, compensate, signal)),
  };
}

function bounding({ budget, late, busy, onLate }: Bounds) {
  return <T>(call: string, start: (signal: AbortSignal) => Promise<T>): Promise<T> =>
    within(budget(), () => late(call), (signal) => (busy === undefined ? start(signal) : whileBusy(() => start(signal), busy, signal))).catch((error: unknown) => {
      // Still locked when the budget ran out: the store waited out the timeout, as a late call does.
      if (busy?.(error) === true) throw new CliError("TIMEOUT", late(call), { cause: error });
      if (error instanceof CliError && error.code === "TIMEOUT") onLate?.();
      throw error;
    });
}
