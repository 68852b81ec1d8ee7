import { rmSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PersistenceError } from "../../../../src/persistence/errors.js";
import { WriterQueue } from "../../../../src/persistence/providers/file/queue.js";
import { fullSnapshot, nextRevision } from "../../../../src/persistence/testing/fixtures.js";
import { useFileStore } from "../../../support/file-store.js";
import { deferred, rejectionOf } from "../../../support/promises.js";

const files = useFileStore("file-lock-deadline");

afterEach(() => {
  vi.useRealTimers();
});

describe("FilePersistenceProvider's lockTimeoutMs", () => {
  // Only the clock is faked: the writers' backoff and the file system run for real, and the clock
  // moves once, past every call's deadline. A writer that started its wait only when its turn in
  // the queue came would never see its own deadline pass, and the test would time out.
  it("bounds each save and delete from when it was called, however many of one provider's writers of the instance queue before it", async () => {
    const store = files.provider({ lockTimeoutMs: 1_000 });
    const snapshot = fullSnapshot();
    await store.save(snapshot);
    await mkdir(files.directory, { recursive: true });
    await writeFile(files.lockPath(snapshot), `${process.pid} held-by-another-provider\n`);
    vi.useFakeTimers({ toFake: ["Date"] });
    const calls = [1, 2, 3, 4].map(() => store.save(nextRevision(snapshot)));
    calls.push(store.delete(snapshot.foundryExecutionId, snapshot.workflowId));
    vi.setSystemTime(Date.now() + 1_001);
    const errors = await Promise.all(calls.map((call) => rejectionOf<any>(call)));
    for (const error of errors) {
      expect(error).toBeInstanceOf(PersistenceError);
      expect(error.message).toContain("gave up after 1000 ms");
    }
    vi.useRealTimers();
    rmSync(files.lockPath(snapshot));
    expect((await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId))?.revision).toBe(1);
  });
});

describe("WriterQueue", () => {
  const waitUntil = (deadline: number, timedOut = new Error("gave up")) => ({ signal: undefined, deadline, timedOut: () => timedOut });

  it("gives up on a writer's turn at its deadline, with the caller's error, while the writer before it still runs", async () => {
    vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"] });
    const queue = new WriterQueue();
    const first = deferred();
    const running = queue.run("base", waitUntil(Date.now() + 1_000), () => first.promise);
    const timedOut = new Error("the turn did not come in time");
    let [ran, settled] = [false, false];
    const second = rejectionOf(queue.run("base", waitUntil(Date.now() + 1_000, timedOut), () => Promise.resolve(void (ran = true))));
    void second.finally(() => (settled = true));
    await vi.advanceTimersByTimeAsync(999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect([await second, ran]).toEqual([timedOut, false]);
    first.resolve();
    await running;
  });

  it("keeps its order when a writer gives up while last in the queue: the next waits for those still before it", async () => {
    const queue = new WriterQueue();
    const first = deferred();
    const order: string[] = [];
    const running = queue.run("base", waitUntil(Date.now() + 60_000), async () => {
      await first.promise;
      order.push("first");
    });
    await rejectionOf(queue.run("base", waitUntil(Date.now()), () => Promise.resolve(void order.push("second"))));
    const third = queue.run("base", waitUntil(Date.now() + 60_000), () => Promise.resolve(void order.push("third")));
    first.resolve();
    await Promise.all([running, third]);
    expect(order).toEqual(["first", "third"]);
  });
});
