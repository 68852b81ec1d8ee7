import { describe, it, expect, vi } from "vitest";
import { action, createFoundry, createSmith, createWorkflow } from "../../src/index.js";

describe("action", () => {
  it("runs its effect and passes its input, not the effect's result, to the next operation", async () => {
    const effect = vi.fn(() => "ignored");
    const signal = new AbortController().signal;
    const foundry = createFoundry("notify").addOperation(action("send", effect)).withOperation("next", (input: unknown) => input);

    await expect(foundry.forge({ input: { to: "a@b" }, signal })).resolves.toEqual({ to: "a@b" });
    expect(effect).toHaveBeenCalledWith({ to: "a@b" }, foundry, signal);
  });

  it("waits for an async effect before the next operation starts", async () => {
    const log: string[] = [];
    const foundry = createFoundry("notify")
      .addOperation(
        action("send", async () => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          log.push("effect done");
        }),
      )
      .withOperation("next", () => void log.push("next"));

    await foundry.forge();
    expect(log).toEqual(["effect done", "next"]);
  });

  it("gives its restore the input it received", async () => {
    const restore = vi.fn();
    const workflow = createWorkflow("notify")
      .addOperation(action("send", () => "effect result", restore))
      .withOperation("fails", () => {
        throw new Error("boom");
      })
      .build();

    await expect(createSmith().forge(workflow, createFoundry("notify"), { input: "the input" })).rejects.toThrow();
    expect(restore).toHaveBeenCalledWith("the input", expect.anything(), expect.any(AbortSignal));
  });

  it("has no restore unless one is given", () => {
    expect(action("send", () => undefined)).not.toHaveProperty("restore");
  });

  it("throws a TypeError naming the bad argument", () => {
    expect(() => action("", () => undefined)).toThrow("action(name)");
    expect(() => action("send", 1 as any)).toThrow(/effect must be a function/);
    expect(() => action("send", () => undefined, "undo" as any)).toThrow(/restore must be a function/);
  });
});
