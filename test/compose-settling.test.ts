import { describe, it, expect } from "vitest";
import { compose, type Layer } from "../src/compose.js";
import { deferred } from "./support/promises.js";

type Context = { readonly value: number };

const misuse = (_: Context, layer: number, problem?: string): Error => new Error(`layer ${layer} ${problem ?? "misused next()"}`);

/** Tracks whether a promise has settled, without handling its outcome for the test. */
function watch(promise: Promise<unknown>): { readonly settled: () => boolean } {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  return { settled: () => settled };
}

/** Lets every pending promise reaction and a few macrotasks run. */
async function drain(): Promise<void> {
  for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
}

describe("compose: layers settle from the inside out", () => {
  const unawaited: [string, Layer<Context, number>][] = [
    ["returns a value after calling next() without awaiting it", (_, next) => {
      void next();
      return 0;
    }],
    ["returns nothing after calling next() without awaiting it", ((_: Context, next: () => Promise<number>) => {
      void next();
    }) as unknown as Layer<Context, number>],
    ["awaits something else instead of next()", async (_, next) => {
      void next();
      await Promise.resolve();
      return 0;
    }],
    ["calls next() only after an await, without awaiting it", async (_, next) => {
      await Promise.resolve();
      void next();
      return 0;
    }],
  ];

  it.each(unawaited)("waits for the inner layers, then rejects naming the layer, when a layer %s", async (_, early) => {
    const gate = deferred<number>();
    let innerFinished = false;
    const inner: Layer<Context, number> = async (__, next) => {
      await gate.promise;
      innerFinished = true;
      return next();
    };
    const result = compose([early, inner], (context) => context.value, misuse)({ value: 1 });
    const state = watch(result);

    await drain();
    expect(state.settled()).toBe(false);
    gate.resolve(0);
    await expect(result).rejects.toThrow("layer 0 resolved before the layers inside it settled");
    expect(innerFinished).toBe(true);
  });

  it("waits for a pending terminal before rejecting when the innermost layer does not await next()", async () => {
    const gate = deferred<number>();
    const result = compose<Context, number>([(_, next) => next(), (_, next) => {
      void next();
      return 0;
    }], () => gate.promise, misuse)({ value: 1 });
    const state = watch(result);

    await drain();
    expect(state.settled()).toBe(false);
    gate.resolve(5);
    await expect(result).rejects.toThrow("layer 1 resolved before the layers inside it settled");
  });

  it("rejects the misuse even when the inner layers fail, and handles their rejection", async () => {
    const result = compose<Context, number>([(_, next) => {
      void next();
      return 0;
    }], () => Promise.reject(new Error("inner failure")), misuse)({ value: 1 });
    await expect(result).rejects.toThrow("layer 0 resolved before the layers inside it settled");
  });

  it("refuses a next() called after the layer settled, and does not run the inner layers", async () => {
    let terminalCalls = 0;
    let late: (() => Promise<number>) | undefined;
    const run = compose<Context, number>([(_, next) => {
      late = next;
      return 7;
    }], () => ++terminalCalls, misuse);

    await expect(run({ value: 1 })).resolves.toBe(7);
    await expect(late?.()).rejects.toThrow("layer 0 called next() after it had settled");
    expect(terminalCalls).toBe(0);
  });

  it("accepts a layer that returns next()'s promise without being async", async () => {
    const gate = deferred<number>();
    const plain: Layer<Context, number> = (_, next) => next();
    const result = compose<Context, number>([plain, plain], () => gate.promise, misuse)({ value: 1 });
    gate.resolve(3);
    await expect(result).resolves.toBe(3);
  });

  it("passes through an error a layer throws after next() resolved", async () => {
    const boom = new Error("after next");
    let terminalCalls = 0;
    const run = compose<Context, number>([async (_, next) => {
      await next();
      throw boom;
    }], () => ++terminalCalls, misuse);

    await expect(run({ value: 1 })).rejects.toBe(boom);
    expect(terminalCalls).toBe(1);
  });

  it("passes a layer's early rejection through unchanged while the inner layers still run (a timeout)", async () => {
    const gate = deferred<number>();
    const timeout = new Error("timed out");
    const result = compose<Context, number>([(_, next) => {
      next().catch(() => undefined);
      return Promise.reject(timeout);
    }], () => gate.promise, misuse)({ value: 1 });

    await expect(result).rejects.toBe(timeout);
    gate.resolve(0);
  });

  it("lets a layer short-circuit synchronously or asynchronously without calling next", async () => {
    const gate = deferred<number>();
    const run = compose<Context, number>([async () => gate.promise, () => 0], () => 0, misuse);
    const result = run({ value: 1 });
    gate.resolve(9);
    await expect(result).resolves.toBe(9);
    await expect(compose<Context, number>([() => 4], () => 0, misuse)({ value: 1 })).resolves.toBe(4);
  });
});
