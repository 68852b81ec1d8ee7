import { describe, it, expect, vi } from "vitest";
import { createFoundry, errorHandlingMiddleware, type OperationContext } from "../../src/index.js";

describe("errorHandlingMiddleware", () => {
  it("recovers with the value onError returns, which becomes the operation's output", async () => {
    const boom = new Error("boom");
    const onError = vi.fn<(error: unknown, context: OperationContext) => unknown>(() => "fallback");
    const foundry = createFoundry("orders")
      .use(errorHandlingMiddleware(onError))
      .withOperation("fails", () => {
        throw boom;
      })
      .withOperation("next", (input: string) => `${input} used`);

    await expect(foundry.forge()).resolves.toBe("fallback used");
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]?.[0]).toBe(boom);
    expect(onError.mock.calls[0]?.[1]).toMatchObject({ index: 0, operation: { name: "fails" } });
  });

  it("fails the run with the error onError throws", async () => {
    const replacement = new Error("translated");
    const foundry = createFoundry("orders")
      .use(
        errorHandlingMiddleware(() => {
          throw replacement;
        }),
      )
      .withOperation("fails", () => {
        throw new Error("boom");
      });

    await expect(foundry.forge()).rejects.toMatchObject({ code: "OPERATION_FAILED", cause: replacement });
  });

  it("leaves successful operations alone", async () => {
    const onError = vi.fn();
    const foundry = createFoundry("orders").use(errorHandlingMiddleware(onError)).withOperation("ok", () => "fine");

    await expect(foundry.forge()).resolves.toBe("fine");
    expect(onError).not.toHaveBeenCalled();
  });

  it("throws a TypeError when onError is not a function", () => {
    expect(() => errorHandlingMiddleware(undefined as any)).toThrow("errorHandlingMiddleware(onError)");
  });
});
