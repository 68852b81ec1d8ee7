import { afterEach, describe, expect, it, vi } from "vitest";
import { createFoundry, createSmith, createWorkflow, delegate, forEach, timeoutMiddleware } from "../src/index.js";
import { MemoryPersistenceProvider, usePersistence } from "../src/persistence/index.js";
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

  it("under a lease, never come from AbortSignal.any and come off the caller's signal when each run settles", async () => {
    const any = vi.spyOn(AbortSignal, "any");
    const { signal, attached } = countedSignal();
    const provider = new MemoryPersistenceProvider();
    for (let run = 0; run < 20; run++) {
      const foundry = usePersistence(createFoundry("orders", { executionId: `o-${run}` }).use(timeoutMiddleware(60_000)), provider, { lease: { ttlMs: 30_000 } });
      await createSmith().forge(workflow(), foundry, { signal });
    }
    expect(any).not.toHaveBeenCalled();
    expect(attached()).toBe(0);
  });

  it("let many runs in progress share one caller's signal without a listener-leak warning", async () => {
    const warnings: string[] = [];
    const warned = (warning: Error): void => void warnings.push(warning.name);
    process.on("warning", warned);
    try {
      const { signal } = new AbortController();
      const provider = new MemoryPersistenceProvider();
      const slow = () => new Promise((resolve) => setImmediate(resolve));
      await Promise.all(
        Array.from({ length: 20 }, (_, run) =>
          usePersistence(createFoundry("orders", { executionId: `w-${run}` }).use(timeoutMiddleware(60_000)), provider, { lease: { ttlMs: 30_000 } })
            .withOperation("slow", slow)
            .forge({ signal }),
        ),
      );
      // Warnings are emitted on the next turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toEqual([]);
    } finally {
      process.off("warning", warned);
    }
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
