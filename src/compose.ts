import type { MaybePromise } from "./types.js";

export type Next<C, R> = (context?: C) => Promise<R>;
export type Layer<C, R> = (context: C, next: Next<C, R>) => MaybePromise<R>;

/**
 * Builds an onion: `layers[0]` is the outermost, `terminal` the core. Each layer may call `next`
 * at most once, optionally with a replacement context for the layers inside it.
 *
 * `misuse(index)` builds the error raised when a layer calls `next` twice, so callers can name
 * the workflow and operation concerned.
 */
export function compose<C, R>(
  layers: readonly Layer<C, R>[],
  terminal: (context: C) => MaybePromise<R>,
  misuse: (context: C, layerIndex: number) => Error,
): (context: C) => Promise<R> {
  const count = layers.length;
  return function run(context: C): Promise<R> {
    let lastCalled = -1;
    const dispatch = (position: number, current: C): Promise<R> => {
      if (position <= lastCalled) return Promise.reject(misuse(current, position - 1));
      lastCalled = position;
      try {
        if (position === count) return Promise.resolve(terminal(current));
        const layer = layers[position] as Layer<C, R>;
        return Promise.resolve(layer(current, (next?: C) => dispatch(position + 1, next ?? current)));
      } catch (error) {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a layer's synchronous throw is forwarded unchanged
        return Promise.reject(error);
      }
    };
    return dispatch(0, context);
  };
}
