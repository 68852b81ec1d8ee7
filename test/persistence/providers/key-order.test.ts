import { describe, expect, it } from "vitest";
import { KeyOrder } from "../../../src/persistence/providers/key-order.js";

// The writes of one instance go one at a time, in the order they were called; other instances' do not wait.

/** A task that records when it starts and settles only when the test says so. */
function heldTask(name: string, started: string[]) {
  let finish: (error?: Error) => void = () => undefined;
  const task = (): Promise<string> => {
    started.push(name);
    return new Promise((resolve, reject) => (finish = (error) => (error === undefined ? resolve(name) : reject(error))));
  };
  return { task, finish: (error?: Error) => finish(error) };
}

const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("KeyOrder", () => {
  it("starts a task at once when no earlier task of its key is pending", () => {
    const started: string[] = [];
    const order = new KeyOrder();
    void order.run("a", heldTask("a1", started).task);
    void order.run("b", heldTask("b1", started).task);
    expect(started).toEqual(["a1", "b1"]);
  });

  it("runs the tasks of one key one at a time, in the order they were given", async () => {
    const started: string[] = [];
    const order = new KeyOrder();
    const [first, second, third] = ["a1", "a2", "a3"].map((name) => heldTask(name, started));
    const results = [order.run("a", first!.task), order.run("a", second!.task), order.run("a", third!.task)];
    await settled();
    expect(started).toEqual(["a1"]);
    first!.finish();
    await settled();
    expect(started).toEqual(["a1", "a2"]);
    second!.finish();
    await settled();
    third!.finish();
    await expect(Promise.all(results)).resolves.toEqual(["a1", "a2", "a3"]);
  });

  it("goes on with the next task of a key after one that rejected or threw, and each caller gets its own outcome", async () => {
    const started: string[] = [];
    const order = new KeyOrder();
    const failing = heldTask("a1", started);
    const thrown = new Error("thrown, not rejected");
    const results = [
      order.run("a", failing.task),
      order.run("a", () => {
        throw thrown;
      }),
      order.run("a", () => Promise.resolve("a3")),
    ];
    failing.finish(new Error("a1 failed"));
    expect(await Promise.allSettled(results)).toEqual([
      { status: "rejected", reason: new Error("a1 failed") },
      { status: "rejected", reason: thrown },
      { status: "fulfilled", value: "a3" },
    ]);
  });

  it("a task that throws with nothing before it rejects rather than throws", async () => {
    const thrown = new Error("at once");
    const order = new KeyOrder();
    const result = order.run("a", () => {
      throw thrown;
    });
    await expect(result).rejects.toBe(thrown);
  });

  it("does not hold a key's next task once its earlier tasks settled", async () => {
    const started: string[] = [];
    const order = new KeyOrder();
    const first = heldTask("a1", started);
    const result = order.run("a", first.task);
    first.finish();
    await result;
    await settled();
    void order.run("a", heldTask("a2", started).task);
    expect(started).toEqual(["a1", "a2"]);
  });

  it("a task whose signal aborts while it waits rejects at once with the reason, never runs, and later tasks still wait for the earlier ones", async () => {
    const started: string[] = [];
    const order = new KeyOrder();
    const first = heldTask("a1", started);
    const controller = new AbortController();
    const results = [order.run("a", first.task), order.run("a", heldTask("a2", started).task, controller.signal)];
    const third = heldTask("a3", started);
    results.push(order.run("a", third.task));
    const reason = new Error("gave up");
    controller.abort(reason);
    await expect(results[1]).rejects.toBe(reason);
    expect(started).toEqual(["a1"]);
    first.finish();
    await settled();
    expect(started).toEqual(["a1", "a3"]);
    third.finish();
    await expect(Promise.all([results[0], results[2]])).resolves.toEqual(["a1", "a3"]);
  });

  it("a task that started goes on to its own outcome when its signal aborts afterwards", async () => {
    const started: string[] = [];
    const order = new KeyOrder();
    const first = heldTask("a1", started);
    const controller = new AbortController();
    const second = heldTask("a2", started);
    const results = [order.run("a", first.task), order.run("a", second.task, controller.signal)];
    first.finish();
    await settled();
    expect(started).toEqual(["a1", "a2"]);
    controller.abort(new Error("too late"));
    second.finish();
    await expect(Promise.all(results)).resolves.toEqual(["a1", "a2"]);
  });
});
