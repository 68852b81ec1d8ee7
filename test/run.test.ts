import { describe, it, expect, vi } from "vitest";
import {
  createFoundry,
  withRestoreData,
  MiddlewareError,
  OperationFailedError,
  type OperationContext,
  type OperationMiddleware,
} from "../src/index.js";

describe("output chaining", () => {
  it("gives the first operation forge({ input }) and each next one the previous output", async () => {
    const seen: unknown[] = [];
    const foundry = createFoundry("chain")
      .withOperation("a", (input: number) => {
        seen.push(input);
        return input + 1;
      })
      .withOperation("b", async (input: number) => {
        seen.push(input);
        return Promise.resolve(input * 10);
      });

    await expect(foundry.forge({ input: 1 })).resolves.toBe(20);
    expect(seen).toEqual([1, 2]);
  });

  it("gives the first operation undefined when forge() has no input", async () => {
    const first = vi.fn();
    await createFoundry("chain").withOperation("a", first).forge();
    expect(first).toHaveBeenCalledTimes(1);
    expect(first.mock.calls[0]?.[0]).toBeUndefined();
  });

  it("chains an undefined output instead of falling back to an earlier value", async () => {
    const seen: unknown[] = [];
    const foundry = createFoundry("chain")
      .withOperation("a", () => "from a")
      .withOperation("b", () => undefined)
      .withOperation("c", (input: unknown) => {
        seen.push(input);
        return input;
      });

    await expect(foundry.forge({ input: "start" })).resolves.toBeUndefined();
    expect(seen).toEqual([undefined]);
  });

  it.each([0, "", false, null, Number.NaN])("chains the falsy output %s unchanged", async (falsy) => {
    const seen: unknown[] = [];
    const foundry = createFoundry("chain")
      .withOperation("a", () => falsy)
      .withOperation("b", (input: unknown) => {
        seen.push(input);
        return input;
      });

    await expect(foundry.forge({ input: "start" })).resolves.toBe(falsy);
    expect(seen).toEqual([falsy]);
  });

  it("passes only the output of withRestoreData to the next operation", async () => {
    const foundry = createFoundry("chain")
      .withOperation("a", () => withRestoreData("output", { id: "restore data" }))
      .withOperation("b", (input: unknown) => input);

    await expect(foundry.forge()).resolves.toBe("output");
  });

  it("resolves with the run's input when the foundry has no operations", async () => {
    await expect(createFoundry("empty").forge({ input: 5 })).resolves.toBe(5);
  });
});

describe("operation middleware", () => {
  it("runs the first middleware added as the outermost layer", async () => {
    const log: string[] = [];
    const layer =
      (name: string): OperationMiddleware =>
      async (_context, next) => {
        log.push(`${name} in`);
        const result = await next();
        log.push(`${name} out`);
        return result;
      };
    const foundry = createFoundry("onion")
      .use(layer("first"))
      .use(layer("second"))
      .withOperation("op", () => {
        log.push("op");
      });

    await foundry.forge();
    expect(log).toEqual(["first in", "second in", "op", "second out", "first out"]);
  });

  it("gives a middleware the operation, its index, the input, the foundry, the signal and the run", async () => {
    const contexts: OperationContext[] = [];
    const signal = new AbortController().signal;
    const foundry = createFoundry("onion")
      .use((context, next) => {
        contexts.push(context);
        return next();
      })
      .withOperation("a", () => "out of a")
      .withOperation("b", () => "out of b");

    await foundry.forge({ input: "in", signal });
    expect(contexts.map((c) => [c.operation.name, c.index, c.input])).toEqual([
      ["a", 0, "in"],
      ["b", 1, "out of a"],
    ]);
    for (const context of contexts) {
      expect(context.foundry).toBe(foundry);
      expect(context.signal).toBe(signal);
      expect(context.run.workflow.name).toBe("onion");
    }
  });

  it("rejects with MiddlewareError (MIDDLEWARE_MISUSE) naming the operation when a middleware calls next twice", async () => {
    const forge = vi.fn(() => "done");
    const foundry = createFoundry("onion")
      .use(async (_context, next) => {
        await next();
        return next();
      })
      .withOperation("charge", forge);

    const error: unknown = await foundry.forge().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MiddlewareError);
    expect(error).toMatchObject({ code: "MIDDLEWARE_MISUSE", workflowName: "onion", operationName: "charge", operationIndex: 0 });
    expect(forge).toHaveBeenCalledTimes(1);
  });

  it("lets a middleware short-circuit: the operation does not run and the middleware's value is the output", async () => {
    const forge = vi.fn(() => "real");
    const foundry = createFoundry("onion")
      .use(() => "cached")
      .withOperation("lookup", forge)
      .withOperation("next", (input: unknown) => input);

    await expect(foundry.forge()).resolves.toBe("cached");
    expect(forge).not.toHaveBeenCalled();
  });

  it("lets a middleware replace the operation's result", async () => {
    const foundry = createFoundry("onion")
      .use(async (_context, next) => `${String(await next())}!`)
      .withOperation("a", () => "hello")
      .withOperation("b", (input: string) => input.toUpperCase());

    await expect(foundry.forge()).resolves.toBe("HELLO!!");
  });

  it("lets a middleware observe an operation's error and rethrow it", async () => {
    const boom = new Error("boom");
    const observed: unknown[] = [];
    const foundry = createFoundry("onion")
      .use(async (_context, next) => {
        try {
          return await next();
        } catch (error) {
          observed.push(error);
          throw error;
        }
      })
      .withOperation("fails", () => {
        throw boom;
      });

    const error: unknown = await foundry.forge().catch((e: unknown) => e);
    expect(observed).toEqual([boom]);
    expect(error).toBeInstanceOf(OperationFailedError);
    expect((error as Error).cause).toBe(boom);
  });

  it("hands the changed context a middleware passes to next to the operation", async () => {
    const replacement = new AbortController().signal;
    let received: { input: unknown; signal: AbortSignal } | undefined;
    const foundry = createFoundry("onion")
      .use((context, next) => next({ ...context, input: "changed", signal: replacement }))
      .withOperation("op", (input: unknown, _foundry, signal) => {
        received = { input, signal };
      });

    await foundry.forge({ input: "original" });
    expect(received?.input).toBe("changed");
    expect(received?.signal).toBe(replacement);
  });
});

describe("operation failure", () => {
  it("stops the run at the failing operation and does not restore on a bare foundry", async () => {
    const later = vi.fn();
    const restore = vi.fn();
    const foundry = createFoundry("fail")
      .withOperation("first", () => 1, restore)
      .withOperation("fails", () => {
        throw new Error("boom");
      })
      .withOperation("later", later);

    await expect(foundry.forge()).rejects.toMatchObject({ code: "OPERATION_FAILED", operationName: "fails", operationIndex: 1 });
    expect(later).not.toHaveBeenCalled();
    expect(restore).not.toHaveBeenCalled();
  });
});
