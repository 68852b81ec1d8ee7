import { describe, expect, it } from "vitest";
import {
  AnnotationLimitError,
  MiddlewareError,
  createFoundry,
  createSmith,
  createWorkflow,
  type OperationMiddleware,
  type RunOutcome,
  type RunStart,
} from "../src/index.js";

/** A middleware that records what it sees, with an optional start hook. */
function recorder(name: string, seen: string[], start?: (context: RunStart) => void | Promise<void>): OperationMiddleware {
  const layer: OperationMiddleware = async (context, next) => {
    seen.push(`${name}:${context.index}:${context.run.identity.instanceId}`);
    return next();
  };
  if (start !== undefined) layer.start = start;
  return layer;
}

const threeSteps = () =>
  createFoundry("Steps", { executionId: "run-1" })
    .withOperation("a", (input: number | undefined) => (input ?? 0) + 1)
    .withOperation("b", (input: number) => input + 10)
    .withOperation("c", (input: number) => input + 100);

describe("middleware start hooks", () => {
  it("can bypass the run: the layer whose hook calls bypass() is called for none of its operations, the others still are", async () => {
    const seen: string[] = [];
    const foundry = threeSteps()
      .use(recorder("outer", seen))
      .use(recorder("quiet", seen, ({ bypass }) => bypass()))
      .use(recorder("inner", seen, () => undefined));
    await expect(foundry.forge()).resolves.toBe(111);
    expect(seen).toEqual(["outer:0:run-1", "inner:0:run-1", "outer:1:run-1", "inner:1:run-1", "outer:2:run-1", "inner:2:run-1"]);
    // Per run: the next run asks the hook again.
    seen.length = 0;
    let active = true;
    const again = threeSteps().use(recorder("sometimes", seen, ({ bypass }) => (active ? undefined : bypass())));
    await again.forge();
    active = false;
    await again.forge();
    expect(seen).toEqual(["sometimes:0:run-1", "sometimes:1:run-1", "sometimes:2:run-1"]);
  });

  it("are awaited in the order the middleware was added, before operation 0's chain runs", async () => {
    const seen: string[] = [];
    const slowStart = async () => {
      await new Promise((resolve) => setImmediate(resolve));
      seen.push("start:outer");
    };
    const foundry = threeSteps()
      .use(recorder("outer", seen, slowStart))
      .use(recorder("inner", seen, () => void seen.push("start:inner")));
    await foundry.forge();
    expect(seen.slice(0, 3)).toEqual(["start:outer", "start:inner", "outer:0:run-1"]);
  });

  it("settle the identity before any middleware, in any position, sees operation 0", async () => {
    const seen: string[] = [];
    const keys: string[] = [];
    const foundry = threeSteps()
      .use(recorder("outer", seen))
      .use(recorder("inner", seen, ({ run }) => run.setIdentity({ instanceId: "order-42", workflowKey: "Orders" })))
      .withOperation("key", (_input, f) => keys.push(f.idempotencyKey()));
    await foundry.forge();
    expect(seen.filter((line) => line.endsWith(":0:order-42"))).toEqual(["outer:0:order-42", "inner:0:order-42"]);
    expect(keys).toEqual(["order-42/Orders/3"]);
  });

  it("fail the run as operation 0 would when one throws, and no operation runs", async () => {
    const ran: string[] = [];
    const failed: number[] = [];
    const foundry = createFoundry("Steps").withOperation("a", () => ran.push("a"));
    foundry.on("operationFailed", ({ index }) => failed.push(index));
    foundry.use(Object.assign(async (_context: unknown, next: () => Promise<unknown>) => next(), { start: () => Promise.reject(new Error("store down")) }));
    await expect(foundry.forge()).rejects.toMatchObject({ code: "OPERATION_FAILED", operationIndex: 0, cause: { message: "store down" } });
    expect(ran).toEqual([]);
    expect(failed).toEqual([0]);
  });

  it("are refused by use() when start is not a function", () => {
    const layer = Object.assign(async (_context: unknown, next: () => Promise<unknown>) => next(), { start: "soon" });
    expect(() => createFoundry("Steps").use(layer as unknown as OperationMiddleware)).toThrow(/middleware\.start must be a function/);
  });
});

describe("the run context's start methods", () => {
  it("refuse a second setIdentity and any call after operation 0 started", async () => {
    const errors: unknown[] = [];
    const foundry = threeSteps().use(
      Object.assign(
        async (context: { run: { setIdentity(identity: object): void; resumeAt(index: number): void } }, next: () => Promise<unknown>) => {
          for (const call of [() => context.run.setIdentity({ instanceId: "x", workflowKey: "y" }), () => context.run.resumeAt(1)]) {
            try {
              call();
            } catch (error) {
              errors.push(error);
            }
          }
          return next();
        },
        {
          start: ({ run }: RunStart) => {
            run.setIdentity({ instanceId: "order-42", workflowKey: "Orders" });
            expect(() => run.setIdentity({ instanceId: "order-43", workflowKey: "Orders" })).toThrow(MiddlewareError);
          },
        },
      ),
    );
    await foundry.forge();
    expect(errors).toHaveLength(6);
    expect(errors.every((error) => error instanceof MiddlewareError && /start hook/.test(error.message))).toBe(true);
  });

  it("resumeAt skips the completed operations without calling the middleware chain, and chains the restored output", async () => {
    const seen: string[] = [];
    const skipped: number[] = [];
    const foundry = threeSteps().use(recorder("layer", seen, ({ run }) => run.resumeAt(2, { lastOutput: 40 })));
    foundry.on("operationSkipped", ({ index }) => skipped.push(index));
    await expect(foundry.forge({ input: 1 })).resolves.toBe(140);
    expect(seen).toEqual(["layer:2:run-1"]);
    expect(skipped).toEqual([0, 1]);
  });

  it("resumeAt past the last operation runs nothing and resolves with the restored output", async () => {
    const seen: string[] = [];
    const foundry = threeSteps().use(recorder("layer", seen, ({ run }) => run.resumeAt(3, { lastOutput: "done before" })));
    await expect(foundry.forge()).resolves.toBe("done before");
    expect(seen).toEqual([]);
  });

  it("resumeCompensation restores the pending operations with their restore data and rejects with the given error", async () => {
    const restored: string[] = [];
    const ran: string[] = [];
    const workflow = createWorkflow("Order")
      .withOperation("reserve", () => String(ran.push("reserve")), (data: string) => void restored.push(`reserve:${data}`))
      .withOperation("charge", () => String(ran.push("charge")), (data: string) => void restored.push(`charge:${data}`))
      .withOperation("ship", () => ran.push("ship"))
      .build();
    const stopped = new Error("card declined, earlier");
    const foundry = createFoundry("Order").use(
      Object.assign(async (_context: unknown, next: () => Promise<unknown>) => next(), {
        start: ({ run }: RunStart) => run.resumeCompensation(2, stopped, { 0: "r-1", 1: "c-1" }),
      }),
    );
    await expect(createSmith().forge(workflow, foundry)).rejects.toBe(stopped);
    expect(ran).toEqual([]);
    expect(restored).toEqual(["charge:c-1", "reserve:r-1"]);
  });

  it("resumeAt refuses a point that is not an object, and restoreData that is not one, with a TypeError at the call", async () => {
    const refused: unknown[] = [];
    for (const point of [null, 5, { restoreData: null }, { restoreData: "x" }]) {
      const foundry = threeSteps().use(recorder("r", [], ({ run }) => {
        try {
          run.resumeAt(1, point as never);
        } catch (error) {
          refused.push(error);
        }
      }));
      await expect(foundry.forge()).resolves.toBe(111);
    }
    expect(refused.map((error) => error instanceof TypeError)).toEqual([true, true, true, true]);
    expect(String(refused[0])).toContain("run.resumeAt(index, point): point must be an object");
  });

  it("resumeCompensation restores nothing when the run's signal aborted while the start hooks ran: the run rejects with AbortError", async () => {
    const restored: string[] = [];
    const controller = new AbortController();
    const layer = recorder("r", [], async ({ run }) => {
      await Promise.resolve();
      controller.abort(new Error("shutting down"));
      run.resumeCompensation(2, new Error("earlier failure"), { 0: "a", 1: "b" });
    });
    const workflow = createWorkflow("w")
      .withOperation("a", () => "a", () => void restored.push("a"))
      .withOperation("b", () => "b", () => void restored.push("b"))
      .withOperation("c", () => "c")
      .build();
    const error = await createSmith().forge(workflow, createFoundry("f").use(layer), { signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "AbortError", cause: new Error("shutting down") });
    expect(restored).toEqual([]);
  });

  it("resumeAt refuses an index outside the definition", async () => {
    const foundry = threeSteps().use(recorder("layer", [], ({ run }) => run.resumeAt(4)));
    await expect(foundry.forge()).rejects.toMatchObject({ cause: { name: "TypeError", message: expect.stringMatching(/from 0 to 3, got 4/) as string } });
  });
});

describe("run annotations", () => {
  it("hold strings, and refuse a 33rd key, a value over 1,024 characters and a value that is not a string", async () => {
    const problems: unknown[] = [];
    const foundry = createFoundry("Steps").withOperation("a", () => "a");
    foundry.use(async ({ run }, next) => {
      for (let i = 0; i < 32; i++) run.annotations.set(`key-${i}`, "v");
      run.annotations.set("key-0", "changed"); // replacing a key is not a new key
      for (const call of [() => run.annotations.set("key-32", "v"), () => run.annotations.set("key-1", "x".repeat(1025)), () => run.annotations.set("key-1", 7 as unknown as string)]) {
        try {
          call();
        } catch (error) {
          problems.push(error);
        }
      }
      expect(run.annotations.size).toBe(32);
      expect(run.annotations.get("key-0")).toBe("changed");
      expect(run.annotations.delete("key-0")).toBe(true);
      run.annotations.set("key-32", "fits now");
      return next();
    });
    await foundry.forge();
    expect(problems.map((error) => (error instanceof AnnotationLimitError ? "limit" : (error as Error).name))).toEqual(["limit", "limit", "TypeError"]);
  });
});

describe("the engine's internals", () => {
  it("are out of reach: the foundry has no emit method, and the run no execute or settle", async () => {
    expect("emit" in createFoundry("Steps")).toBe(false);
    let run: object | undefined;
    await threeSteps()
      .use(async (context, next) => {
        run = context.run;
        return next();
      })
      .forge();
    expect(run !== undefined && ["execute", "settle"].filter((name) => name in run!)).toEqual([]);
  });
});

describe("run.onSettled", () => {
  // Hears how the run ended, from a start hook of the innermost layer.
  function settledOutcomes(foundry: ReturnType<typeof threeSteps>): RunOutcome[] {
    const outcomes: RunOutcome[] = [];
    const layer: OperationMiddleware = (_context, next) => next();
    layer.start = ({ run }) => run.onSettled((outcome) => void outcomes.push(outcome));
    foundry.use(layer);
    return outcomes;
  }

  it("receives what the run resolved with", async () => {
    const foundry = threeSteps();
    const outcomes = settledOutcomes(foundry);
    expect(await foundry.forge()).toBe(111);
    expect(outcomes).toEqual([{ ok: true, output: 111 }]);
  });

  it("receives what the run rejected with, even when a layer outside the callback's failed after the last operation completed", async () => {
    const foundry = threeSteps();
    const failure = new Error("checkpoint lost");
    // Added first, so outermost: it fails after the inner layers saw operation "c" complete.
    foundry.use(async (context, next) => {
      const result = await next();
      if (context.index === 2) throw failure;
      return result;
    });
    const outcomes = settledOutcomes(foundry);
    const rejection = await foundry.forge().catch((error: unknown) => error);
    expect(outcomes).toEqual([{ ok: false, error: rejection }]);
    expect((rejection as MiddlewareError | Error).message).toContain("checkpoint lost");
  });
});
