import type { Duration } from "./duration.js";
import { CliError } from "./errors.js";
import type { InstanceActions } from "./instance-actions.js";
import type { InspectedProvider } from "./stores.js";

/**
 * What `start(signal)` resolves with, or a `TIMEOUT` CliError with `message()` once `timeout` has
 * passed. The signal is then aborted with that error as its reason, so that work able to stop
 * stops; work that cannot (a request sent to a server that never answers) is abandoned, and a
 * failure it reports later is ignored. Closing the connection is the caller's part.
 */
export function within<T>(timeout: Duration, message: () => string, start: (signal: AbortSignal) => Promise<T> | T): Promise<T> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new CliError("TIMEOUT", message());
      controller.abort(error);
      reject(error);
    }, timeout.ms);
  });
  const work = new Promise<T>((run) => run(start(controller.signal)));
  // A failure after the deadline has no one left to tell.
  work.catch(() => undefined);
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/**
 * The provider with every call bounded by `timeout` and given the signal that says so. `late`
 * words the error for the call that ran out of time (`list`, `read` or `delete`); `isLate` tells
 * a failure that means the store waited out the timeout itself (a lock wait inside the driver).
 */
export function boundedProvider(provider: InspectedProvider, timeout: Duration, late: (call: string) => string, isLate?: (error: unknown) => boolean): InspectedProvider {
  const bounded = bounding(timeout, late, isLate);
  return {
    capabilities: provider.capabilities,
    list: (filter, _signal, options) => bounded("list", (signal) => provider.list(filter, signal, options)),
    tryLoad: (instance, key) => bounded("read", (signal) => provider.tryLoad(instance, key, signal)),
    delete: (instance, key) => bounded("delete", (signal) => provider.delete(instance, key, signal)),
    save: (snapshot) => bounded("save", (signal) => provider.save(snapshot, signal)),
  };
}

/** `signal` and `cancel` bounded as {@link boundedProvider} bounds the provider's calls. */
export function boundedActions(actions: InstanceActions, timeout: Duration, late: (call: string) => string, isLate?: (error: unknown) => boolean): InstanceActions {
  const bounded = bounding(timeout, late, isLate);
  return {
    mailbox: actions.mailbox,
    signal: (keys, event) => bounded("signal", (signal) => actions.signal(keys, event, signal)),
    cancel: (keys, compensate) => bounded("cancel", (signal) => actions.cancel(keys, compensate, signal)),
  };
}

function bounding(timeout: Duration, late: (call: string) => string, isLate: ((error: unknown) => boolean) | undefined) {
  return <T>(call: string, start: (signal: AbortSignal) => Promise<T>): Promise<T> =>
    within(timeout, () => late(call), start).catch((error: unknown) => {
      throw isLate?.(error) === true ? new CliError("TIMEOUT", late(call), { cause: error }) : error;
    });
}
