import { afterEach, describe, expect, it, vi } from "vitest";
import { createFoundry, createSmith, createWorkflow, delegate, forEach, timeoutMiddleware } from "../src/index.js";
import { untilAborted } from "./support/promises.js";

// A worker runs for months with one signal (its shutdown) or none (a process-wide one that never
// aborts). What a timeout or a forEach links to that signal must come off it when the operation
// ends: AbortSignal.any never lets go on Node 20, so its signals pile up, one per operation.

afterEach(() => {
  vi.restoreAllMocks();
});

/** The caller's signal, counting the listeners on it that are still attached. */
function countedSignal(): { signal: AbortSignal; attached: () => number } {
  const { signal } = new AbortController();
  let attached = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((...args: Parameters<AbortSignal["addEventListener"]>) => {
    attached++;
    add(...args);
  });
  signal.removeEventListener = ((...args: Parameters<AbortSignal["removeEventListener"]>) => {
    attached--;
    remove(...args);
  });
  return { signal, attached: () => attached };
}

const workflow = () =>
  createWorkflow("fan-out")
    .withOperation("a", () => 1)
    .addOperation(forEach("each", [delegate("x", () => 2), delegate("y", () => 3)]))
    .build();

describe("signals linked for timeouts and forEach", () => {
  it("never come from AbortSignal.any, with or without a caller's signal", async () => {
    const any = vi.spyOn(AbortSignal, "any");
    const smith = createSmith({ timeoutMs: 60_000 });
    const { signal } = countedSignal();
    await smith.forge(workflow(), createFoundry("orders").use(timeoutMiddleware(60_000)));
    await smith.forge(workflow(), createFoundry("orders").use(timeoutMiddleware(60_000)), { signal });
    expect(any).not.toHaveBeenCalled();
  });

  it("leave nothing attached to the caller's signal once the run is over, however many runs share it", async () => {
    const { signal, attached } = countedSignal();
    const smith = createSmith({ timeoutMs: 60_000 });
    for (let run = 0; run < 20; run++) await smith.forge(workflow(), createFoundry("orders").use(timeoutMiddleware(60_000)), { signal });
    expect(attached()).toBe(0);
  });

  it("still abort the running operation when the caller's signal aborts", async () => {
    const controller = new AbortController();
    const seen: AbortSignal[] = [];
    const foundry = createFoundry("orders")
      .use(timeoutMiddleware(60_000))
      .withOperation("wait", (_input, _foundry, signal) => {
        seen.push(signal);
        controller.abort(new Error("shutting down"));
        return untilAborted(signal);
      });
    await expect(foundry.forge({ signal: controller.signal })).rejects.toMatchObject({ name: "AbortError" });
    expect(seen[0]?.aborted).toBe(true);
  });
});
