import { describe, it, expect } from "vitest";
import { compose, type Layer } from "../src/compose.js";

type Context = { readonly value: number };

const misuse = (_: Context, layer: number): Error => new Error(`layer ${layer} called next twice`);

describe("compose", () => {
  it("runs the first layer outermost and the terminal innermost", async () => {
    const log: string[] = [];
    const layer =
      (name: string): Layer<Context, number> =>
      async (context, next) => {
        log.push(`${name} in`);
        const result = await next();
        log.push(`${name} out`);
        return result;
      };
    const run = compose([layer("a"), layer("b")], (context) => {
      log.push("core");
      return context.value;
    }, misuse);

    await expect(run({ value: 7 })).resolves.toBe(7);
    expect(log).toEqual(["a in", "b in", "core", "b out", "a out"]);
  });

  it("runs the terminal alone when there are no layers", async () => {
    const run = compose<Context, number>([], (context) => context.value * 2, misuse);
    await expect(run({ value: 4 })).resolves.toBe(8);
  });

  it("rejects with the misuse error, naming the layer, when a layer calls next twice", async () => {
    let terminalCalls = 0;
    const twice: Layer<Context, number> = async (_, next) => {
      await next();
      return next();
    };
    const run = compose([(_, next) => next(), twice], () => ++terminalCalls, misuse);

    await expect(run({ value: 1 })).rejects.toThrow("layer 1 called next twice");
    expect(terminalCalls).toBe(1);
  });

  it("starts a fresh guard for every call of the composed function", async () => {
    const run = compose<Context, number>([(_, next) => next()], (context) => context.value, misuse);
    await expect(run({ value: 1 })).resolves.toBe(1);
    await expect(run({ value: 2 })).resolves.toBe(2);
  });

  it("lets a layer short-circuit without calling the inner layers", async () => {
    let reached = false;
    const run = compose<Context, number>([() => 99, () => {
      reached = true;
      return 0;
    }], () => {
      reached = true;
      return 0;
    }, misuse);

    await expect(run({ value: 1 })).resolves.toBe(99);
    expect(reached).toBe(false);
  });

  it("lets a layer replace the result of the inner layers", async () => {
    const run = compose<Context, number>([async (_, next) => (await next()) + 100], (context) => context.value, misuse);
    await expect(run({ value: 1 })).resolves.toBe(101);
  });

  it("hands a changed context to the inner layers and keeps the current one when next gets none", async () => {
    const seen: number[] = [];
    const run = compose<Context, number>(
      [
        (context, next) => next({ value: context.value + 1 }),
        (context, next) => {
          seen.push(context.value);
          return next();
        },
      ],
      (context) => context.value,
      misuse,
    );

    await expect(run({ value: 1 })).resolves.toBe(2);
    expect(seen).toEqual([2]);
  });

  it("turns a layer's synchronous throw into a rejection", async () => {
    const boom = new Error("boom");
    const run = compose<Context, number>([() => {
      throw boom;
    }], () => 0, misuse);

    const result = run({ value: 1 });
    expect(result).toBeInstanceOf(Promise);
    await expect(result).rejects.toBe(boom);
  });

  it("lets an outer layer observe and recover from an inner rejection", async () => {
    const boom = new Error("boom");
    let observed: unknown;
    const run = compose<Context, number>(
      [
        async (_, next) => {
          try {
            return await next();
          } catch (error) {
            observed = error;
            return -1;
          }
        },
      ],
      () => Promise.reject(boom),
      misuse,
    );

    await expect(run({ value: 1 })).resolves.toBe(-1);
    expect(observed).toBe(boom);
  });
});
