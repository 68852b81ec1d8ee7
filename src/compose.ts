import type { MaybePromise } from "./types.js";
import { isThenable } from "./internal/thenable.js";

export type Next<C, R> = (context?: C) => Promise<R>;
export type Layer<C, R> = (context: C, next: Next<C, R>) => MaybePromise<R>;

/** What a layer did wrong, as the end of a sentence about it: `middleware #1 ${problem}`. */
export type Misuse = "called next() multiple times" | "called next() after it had settled" | "resolved before the layers inside it settled (await or return next())";

type MisuseError<C> = (context: C, layerIndex: number, problem: Misuse) => Error;

/**
 * Builds an onion: `layers[0]` is the outermost, `terminal` the core. Each layer may call `next`
 * at most once, optionally with a replacement context for the layers inside it, and must not
 * resolve before the promise `next` returned has settled.
 *
 * A layer that resolves while the layers inside it still run (it called `next()` without awaiting
 * or returning it) would let its caller go on before the inner work finished, so the composed
 * promise waits for the inner layers and then rejects with `misuse`; a `next()` called after the
 * layer settled is refused. Watching a layer's promise costs a microtask, so only the first call
 * of the composed function (the first operation of a run) is watched. A layer that rejects early
 * is passed through unchanged: a timeout does that on purpose.
 *
 * `misuse(context, layerIndex, problem)` builds the error for a layer that broke these rules, so
 * callers can name the workflow and operation concerned.
 */
export function compose<C, R>(
  layers: readonly Layer<C, R>[],
  terminal: (context: C) => MaybePromise<R>,
  misuse: MisuseError<C>,
): (context: C) => Promise<R> {
  const count = layers.length;
  // Without layers there is nothing to watch.
  let watched = count === 0;
  // One function for every call, its per-call state in `called` (the last position called): a
  // closure made per call would cost every operation of every run.
  const dispatch = (position: number, current: C, called: { last: number }): Promise<R> => {
    if (position <= called.last) return Promise.reject(misuse(current, position - 1, "called next() multiple times"));
    called.last = position;
    try {
      if (position === count) return Promise.resolve(terminal(current));
      const layer = layers[position] as Layer<C, R>;
      return Promise.resolve(layer(current, (next?: C) => dispatch(position + 1, next ?? current, called)));
    } catch (error) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a layer's synchronous throw is forwarded unchanged
      return Promise.reject(error);
    }
  };
  return function run(context: C): Promise<R> {
    if (!watched) {
      watched = true;
      return watchedRun(layers, terminal, misuse, context);
    }
    return dispatch(0, context, { last: -1 });
  };
}

// The same onion, following its layers as they settle, which must happen from the inside out.
// A function of its own rather than a flag in the one above, so that the unwatched calls pay for
// no check at all and their call sites see only the user's layers. A layer that returns the
// promise its next() returned settles with the layers inside it by construction: it is handed back
// as is, unwatched, so that the common `(context, next) => next()` costs no extra promise here.
function watchedRun<C, R>(layers: readonly Layer<C, R>[], terminal: (context: C) => MaybePromise<R>, misuse: MisuseError<C>, context: C): Promise<R> {
  const count = layers.length;
  let lastCalled = -1;
  // The outermost position seen to settle.
  let settledFrom = count + 1;
  const settle = (position: number): void => {
    if (position < settledFrom) settledFrom = position;
  };
  const dispatch = (position: number, current: C): Promise<R> => {
    if (position <= lastCalled) return Promise.reject(misuse(current, position - 1, "called next() multiple times"));
    if (settledFrom < position) return Promise.reject(misuse(current, position - 1, "called next() after it had settled"));
    lastCalled = position;
    let inner: Promise<R> | undefined;
    // Whether `inner` settled; followed only once the layer is known not to return it as is.
    let innerSettled = false;
    let returned = false;
    let result: MaybePromise<R>;
    try {
      if (position === count) return Promise.resolve(terminal(current));
      result = (layers[position] as Layer<C, R>)(current, (next?: C) => {
        const promise = dispatch(position + 1, next ?? current);
        if (inner === undefined) {
          inner = promise;
          // Called after the layer returned: followed from now, before anything awaiting it.
          if (returned) follow(promise, () => void (innerSettled = true));
        }
        return promise;
      });
    } catch (error) {
      settle(position);
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a layer's synchronous throw is forwarded unchanged
      return Promise.reject(error);
    }
    returned = true;
    if (inner !== undefined && result === inner) return inner;
    // Reactions the layer attached to `inner` while it ran come first; ours comes before any
    // reaction to the layer's own result can run.
    if (inner !== undefined) follow(inner, () => void (innerSettled = true));
    // Settles like the layer, unless it called next() and resolved before `inner` settled: then it
    // waits for `inner` and rejects as misuse, so that nothing of this call outlives its promise.
    const check = (value: R): R | Promise<R> => {
      const pending = inner;
      if (pending === undefined || innerSettled) {
        settle(position);
        return value;
      }
      const fail = (): never => {
        settle(position);
        throw misuse(current, position, "resolved before the layers inside it settled (await or return next())");
      };
      return pending.then(fail, fail);
    };
    if (!isThenable(result)) return Promise.resolve(check(result));
    return Promise.resolve(result).then(check, (error: unknown) => {
      settle(position);
      throw error;
    });
  };
  return dispatch(0, context);
}

// Calls `done` once `promise` settled, without handling its rejection for anyone else.
function follow(promise: Promise<unknown>, done: () => void): void {
  promise.then(done, done);
}
