import type { MaybePromise } from "./types.js";

export type Next<C, R> = (context?: C) => Promise<R>;
export type Layer<C, R> = (context: C, next: Next<C, R>) => MaybePromise<R>;

/** What a layer did wrong, as the end of a sentence about it: `middleware #1 ${problem}`. */
export type Misuse = "called next() multiple times" | "called next() after it had settled" | "resolved before the layers inside it settled (await or return next())";

const early: Misuse = "resolved before the layers inside it settled (await or return next())";

/**
 * Builds an onion: `layers[0]` is the outermost, `terminal` the core. Each layer may call `next`
 * at most once, optionally with a replacement context for the layers inside it, and must not
 * resolve before the promise `next` returned has settled.
 *
 * A layer that resolves while the layers inside it still run (it called `next()` without awaiting
 * or returning it) would let its caller go on before the inner work finished, so the composed
 * promise waits for the inner layers and then rejects with `misuse`. Watching a promise costs a
 * microtask, so only the first call of the composed function (the first operation of a run)
 * watches every layer; later calls check, at no cost, the layers that return without a promise.
 * A layer that rejects early is passed through unchanged: a timeout does that on purpose.
 *
 * `misuse(context, layerIndex, problem)` builds the error for a layer that broke these rules, so
 * callers can name the workflow and operation concerned.
 */
export function compose<C, R>(
  layers: readonly Layer<C, R>[],
  terminal: (context: C) => MaybePromise<R>,
  misuse: (context: C, layerIndex: number, problem: Misuse) => Error,
): (context: C) => Promise<R> {
  const count = layers.length;
  let watched = false;
  return function run(context: C): Promise<R> {
    const watch = !watched;
    watched = true;
    let lastCalled = -1;
    // The outermost position seen to settle. Layers settle from the inside out: a layer that
    // called next() and settles while the position inside it has not settled resolved too early.
    let settledFrom = count + 1;
    const settle = (position: number): void => {
      if (position < settledFrom) settledFrom = position;
    };
    // Checks a layer that has settled with `value`; a layer that resolved too early rejects once
    // the layers inside it have settled, so that nothing of this call outlives its promise.
    const check = (position: number, current: C, inner: Promise<R> | undefined, value: R): R | Promise<R> => {
      if (inner === undefined || settledFrom <= position + 1) {
        settle(position);
        return value;
      }
      const fail = (): never => {
        settle(position);
        throw misuse(current, position, early);
      };
      return inner.then(fail, fail);
    };
    const dispatch = (position: number, current: C): Promise<R> => {
      if (position <= lastCalled) return Promise.reject(misuse(current, position - 1, "called next() multiple times"));
      if (settledFrom < position) return Promise.reject(misuse(current, position - 1, "called next() after it had settled"));
      lastCalled = position;
      let inner: Promise<R> | undefined;
      let result: MaybePromise<R>;
      try {
        if (position === count) result = terminal(current);
        else {
          result = (layers[position] as Layer<C, R>)(current, (next?: C) => {
            const promise = dispatch(position + 1, next ?? current);
            inner ??= promise;
            return promise;
          });
        }
      } catch (error) {
        settle(position);
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a layer's synchronous throw is forwarded unchanged
        return Promise.reject(error);
      }
      if (!isThenable(result)) return Promise.resolve(check(position, current, inner, result));
      if (!watch) return Promise.resolve(result);
      return Promise.resolve(result).then(
        (value) => check(position, current, inner, value),
        (error: unknown) => {
          settle(position);
          throw error;
        },
      );
    };
    return dispatch(0, context);
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === "function";
}
