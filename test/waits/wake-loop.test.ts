import { afterEach, describe, expect, it } from "vitest";
import { WakeLoop } from "../../src/persistence/recovery/wake-loop.js";

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
process.on("unhandledRejection", onUnhandled);
afterEach(() => {
  unhandled.length = 0;
});

describe("WakeLoop", () => {
  it("runs one more pass for any number of wakes during a pass, never two at once, and none after stop", async () => {
    let running = 0;
    let most = 0;
    let passes = 0;
    const gates = [deferred(), deferred(), deferred()];
    const loop = new WakeLoop({
      pollIntervalMs: 3_600_000,
      onError: (error) => expect.unreachable(String(error)),
      pass: async () => {
        most = Math.max(most, ++running);
        await (gates[passes++] as { promise: Promise<void> }).promise;
        running -= 1;
      },
    });
    loop.start();
    loop.wake();
    loop.wake();
    loop.wake();
    (gates[0] as { resolve: () => void }).resolve();
    await turn();
    expect(passes).toBe(2);
    const stopped = loop.stop();
    loop.wake();
    (gates[1] as { resolve: () => void }).resolve();
    await stopped;
    expect([passes, most]).toEqual([2, 1]);
  });

  it("runs another pass for a wake that comes as a pass ends, whichever microtask it lands on", async () => {
    // The wake is sent `hops` microtasks after the pass's last await resumes: at one of them the
    // loop has left its pass but not yet cleared it, and an hour's poll must not be what follows.
    for (let hops = 0; hops < 8; hops++) {
      let passes = 0;
      const gate = deferred();
      const loop = new WakeLoop({
        pollIntervalMs: 3_600_000,
        onError: (error) => expect.unreachable(String(error)),
        pass: async () => {
          if (passes++ > 0) return;
          await gate.promise;
          let left = hops;
          const hop = (): void => (left-- === 0 ? loop.wake() : queueMicrotask(hop));
          hop();
        },
      });
      loop.start();
      gate.resolve();
      await turn();
      expect({ hops, passes }).toEqual({ hops, passes: 2 });
      await loop.stop();
    }
  });

  it("runs one more pass once the subscription takes effect: what was pushed before it reached no listener", async () => {
    let passes = 0;
    const subscribed = deferred();
    const loop = new WakeLoop({
      pollIntervalMs: 3_600_000,
      onError: (error) => expect.unreachable(String(error)),
      subscribe: () => subscribed.promise.then(() => () => Promise.resolve()),
      pass: () => Promise.resolve(void passes++),
    });
    loop.start();
    await turn();
    expect(passes).toBe(1);
    subscribed.resolve();
    await turn();
    expect(passes).toBe(2);
    await loop.stop();
  });

  it("tries a failed subscription again after the next pass, and wakes once it holds: a worker started while its store was down gets its push back", async () => {
    let [passes, subscribes] = [0, 0];
    const [reported, firstPass] = [deferred(), deferred()];
    const errors: unknown[] = [];
    const loop = new WakeLoop({
      pollIntervalMs: 3_600_000,
      onError: (error) => (errors.push(error), reported.resolve()),
      subscribe: () => (++subscribes === 1 ? Promise.reject(new Error("connection refused")) : Promise.resolve(() => Promise.resolve())),
      pass: () => (++passes === 1 ? firstPass.promise : Promise.resolve()),
    });
    loop.start();
    await reported.promise;
    expect([subscribes, errors]).toEqual([1, [new Error("connection refused")]]);
    firstPass.resolve();
    await turn();
    // The pass ended, the subscription was made again, and holding, it ran one more pass.
    expect([subscribes, passes]).toEqual([2, 2]);
    await loop.stop();
  });

  it("goes on when the error handler itself throws: no unhandled rejection, and stop() resolves", async () => {
    const subscribed = deferred();
    const loop = new WakeLoop({
      pollIntervalMs: 3_600_000,
      subscribe: () => Promise.reject(new Error("no push connection")),
      onError: () => {
        throw new Error("the logger is down");
      },
      pass: () => {
        subscribed.resolve();
        return Promise.reject(new Error("the store is down"));
      },
    });
    loop.start();
    await subscribed.promise;
    await turn();
    await expect(loop.stop()).resolves.toBeUndefined();
    await turn();
    expect(unhandled).toEqual([]);
  });

  it("resolves stop() and reports the error when the store's unsubscribe throws instead of rejecting", async () => {
    const errors: unknown[] = [];
    const loop = new WakeLoop({
      pollIntervalMs: 3_600_000,
      subscribe: () =>
        Promise.resolve(() => {
          throw new Error("the push connection is gone");
        }),
      onError: (error) => void errors.push(error),
      pass: () => Promise.resolve(),
    });
    loop.start();
    await turn();
    await expect(loop.stop()).resolves.toBeUndefined();
    expect(errors).toMatchObject([{ message: "the push connection is gone" }]);
  });
});
