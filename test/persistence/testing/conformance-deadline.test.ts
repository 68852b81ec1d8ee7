import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { MemoryPersistenceProvider, type WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { conformanceCases, describeProviderConformance, runConformanceCase } from "../../../src/persistence/testing/index.js";
import { bundleForChild } from "../../support/bundle.js";
import { flawedStore } from "./flawed-store.js";
import { recordingFramework } from "./recording-framework.js";

const never = () => new Promise<never>(() => undefined);
/** Its every call stays pending forever, as over a connection that stopped answering. */
const silentProvider = (): WorkflowPersistenceProvider => ({ save: never, tryLoad: never, delete: never });

function caseNamed(start: string) {
  const found = conformanceCases.find((testCase) => testCase.name.startsWith(start));
  if (found === undefined) throw new Error(`no conformance case named "${start}…"`);
  return found;
}

describe("a conformance case whose provider call never settles", () => {
  it("fails once initializer.caseTimeoutMs has passed, naming the call", { timeout: 5_000 }, async () => {
    const initializer = { name: "Silent", create: silentProvider, caseTimeoutMs: 100 };
    await expect(runConformanceCase(initializer, caseNamed("tryLoad(key) of an unknown key"))).rejects.toThrow("provider.tryLoad did not settle within 100 ms");
    await expect(runConformanceCase(initializer, caseNamed("save then tryLoad round-trips every snapshot field"))).rejects.toThrow("provider.save did not settle within 100 ms");
  });

  it("under node:test, which has no time limit of its own, fails each case by the deadline and lets the process exit", { timeout: 30_000 }, async () => {
    const suite = bundleForChild(fileURLToPath(new URL("./node-test-deadline-suite.ts", import.meta.url)));
    const { stdout, killed } = await new Promise<{ stdout: string; killed: boolean }>((resolve) => {
      // Exits non-zero, as its cases fail; killed only when it hangs past the timeout.
      const child = execFile(process.execPath, ["--test", "--test-reporter=tap", suite], { timeout: 20_000 }, (_error, out) => resolve({ stdout: out, killed: child.killed }));
    });
    expect(killed).toBe(false);
    const basics = conformanceCases.filter((testCase) => testCase.group === "basics");
    expect(stdout.match(/^ {4}not ok \d+ - basics: /gm)).toHaveLength(basics.length);
    expect(stdout).toContain("provider.tryLoad did not settle within 200 ms");
  });

  it("says how long the last call had been pending when the calls before it took the time: slow, or hung late", { timeout: 5_000 }, async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    try {
      // Every call answers after 30 ms: the case's two calls take longer than its 50 ms in all.
      const memory = new MemoryPersistenceProvider();
      const slow = <A extends unknown[], R>(call: (...args: A) => R) => (...args: A) => new Promise<R>((resolve) => setTimeout(() => resolve(call(...args)), 30));
      const initializer = { name: "Slow", create: () => ({ capabilities: memory.capabilities, save: slow(memory.save.bind(memory)), tryLoad: slow(memory.tryLoad.bind(memory)), delete: slow(memory.delete.bind(memory)) }), caseTimeoutMs: 50 };
      const failed = runConformanceCase(initializer, caseNamed("save then tryLoad round-trips every snapshot field")).then(() => "passed", (error: Error) => error.message);
      // A millisecond at a time, each followed by a turn of the event loop (real, as setImmediate is
      // not faked), in which the kit hands the case what the provider answered.
      for (let ms = 0; ms < 100; ms++) {
        await vi.advanceTimersByTimeAsync(1);
        await new Promise((resolve) => setImmediate(resolve));
      }
      // The save settled at 30 ms; the tryLoad after it had been pending 20 ms when the deadline came.
      expect(await failed).toBe("the case did not finish within 50 ms: provider.tryLoad, call 2 of 2, had not settled after 20 ms (a call that hangs, or a provider too slow for the deadline) (the initializer's caseTimeoutMs)");
    } finally {
      vi.useRealTimers();
    }
  });

  it("fails by the deadline when calls settling in microtasks only keep a case going round, and makes no call after it", { timeout: 10_000 }, async () => {
    // Every call of this store settles without a turn of the event loop, as better-sqlite3's do, and
    // claim() hands out records under a live lease: the two coordinators of the recovery case take
    // each other's records without end, and the deadline's timer would never get its turn.
    const store = flawedStore({ ignoresLeases: true });
    let calls = 0;
    const counted = (): WorkflowPersistenceProvider => {
      const provider = store.open();
      return Object.fromEntries(
        Object.entries(provider).map(([name, member]) => [name, typeof member === "function" ? (...args: unknown[]) => (calls++, (member as (...args: unknown[]) => unknown)(...args)) : member]),
      ) as unknown as WorkflowPersistenceProvider;
    };
    const coordinators = caseNamed("two recovery coordinators sharing the provider");
    await expect(runConformanceCase({ name: "Greedy", create: counted, caseTimeoutMs: 1_000 }, coordinators)).rejects.toThrow(
      /^the case did not finish within 1000 ms, its provider calls settling all along: provider\.\w+, call \d+ of \d+, had not settled after \d+ ms \(answers that keep the case going round/,
    );
    const after = calls;
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(after);
  });

  it("in the leased-run case, says a run that never got as far as the case cuts its store off had a call hang before then", { timeout: 10_000 }, async () => {
    // Every tryLoad hangs, so the run's first load does: it never reaches the checkpoint the case makes hang.
    const create = (): WorkflowPersistenceProvider => {
      const memory = new MemoryPersistenceProvider();
      return { capabilities: { compareAndSet: true, list: true }, save: (snapshot) => memory.save(snapshot), tryLoad: never, delete: (instance, workflow) => memory.delete(instance, workflow), list: (filter) => memory.list(filter) };
    };
    await expect(runConformanceCase({ name: "Unloadable", create }, caseNamed("a leased run whose store stops answering"))).rejects.toThrow(
      /^the run must get through step-0 and step-1 before the case stops the provider answering, but ran \[\] and rejected with SnapshotConflictError: .*: a provider call before then did not settle within the 1000 ms lease$/,
    );
  });

  it("fails naming initializer.create() when create() never settles", { timeout: 5_000 }, async () => {
    const initializer = { name: "Unborn", create: never, caseTimeoutMs: 100 };
    await expect(runConformanceCase(initializer, caseNamed("tryLoad(key) of an unknown key"))).rejects.toThrow("initializer.create() did not settle within 100 ms");
  });

  it("after its own deadline, does not wait for a destroy() that waits for the call that never settled", { timeout: 5_000 }, async () => {
    // As pg's Pool.end() waits for a checked-out client: destroy() settles after every call has.
    const initializer = { name: "Silent", create: silentProvider, destroy: never, caseTimeoutMs: 100 };
    await expect(runConformanceCase(initializer, caseNamed("tryLoad(key) of an unknown key"))).rejects.toThrow("provider.tryLoad did not settle within 100 ms");
  });

  it("fails a passing case naming initializer.destroy(provider) when destroy() never settles", { timeout: 5_000 }, async () => {
    const initializer = { name: "Stuck", create: () => new MemoryPersistenceProvider(), destroy: never, caseTimeoutMs: 100 };
    await expect(runConformanceCase(initializer, caseNamed("tryLoad(key) of an unknown key"))).rejects.toThrow("initializer.destroy(provider) did not settle within 100 ms");
  });

  it("is registered with a vitest and Jest time limit above the deadline, so that theirs does not cut in first", () => {
    const limits: unknown[] = [];
    const { framework } = recordingFramework();
    const it = Object.assign((_title: string, _body: unknown, timeoutMs?: number) => void limits.push(timeoutMs), { skip: () => undefined });
    describeProviderConformance({ name: "Silent", create: silentProvider, caseTimeoutMs: 1_000 }, { ...framework, it });
    expect(limits.length).toBe(conformanceCases.length);
    // create(), the case, deleting what it stored and destroy() each have caseTimeoutMs.
    expect(limits.every((limit) => typeof limit === "number" && limit > 4_000)).toBe(true);
  });

  it("registers each case with a limit a timer can hold, and hooks with hookTimeoutMs", () => {
    const limits: (number | undefined)[] = [];
    const { framework } = recordingFramework();
    const it = Object.assign((_title: string, _body: unknown, timeoutMs?: number) => void limits.push(timeoutMs), { skip: () => undefined });
    const beforeAll = (_body: unknown, timeoutMs?: number) => void limits.push(timeoutMs);
    describeProviderConformance({ name: "Silent", create: silentProvider, caseTimeoutMs: 2 ** 31 - 1, hookTimeoutMs: 1_234, beforeAll: () => undefined }, { ...framework, it, beforeAll });
    expect(limits[0]).toBe(1_234);
    expect(limits.slice(1).every((limit) => limit === 2 ** 31 - 1)).toBe(true);
    for (const hookTimeoutMs of [0, -1, 2 ** 31, "100"]) {
      const initializer = { name: "Silent", create: silentProvider, hookTimeoutMs: hookTimeoutMs as number };
      expect(() => describeProviderConformance(initializer, recordingFramework().framework)).toThrow("describeProviderConformance(initializer, framework): initializer.hookTimeoutMs must be a positive number of milliseconds up to 2147483647");
    }
  });

  it("takes caseTimeoutMs only as a positive number of milliseconds a timer can hold", async () => {
    for (const caseTimeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, "100"]) {
      const initializer = { name: "Silent", create: silentProvider, caseTimeoutMs: caseTimeoutMs as number };
      expect(() => describeProviderConformance(initializer, recordingFramework().framework)).toThrow(TypeError);
      await expect(runConformanceCase(initializer, caseNamed("tryLoad(key) of an unknown key"))).rejects.toThrow(
        "runConformanceCase(initializer, testCase): initializer.caseTimeoutMs must be a positive number of milliseconds up to 2147483647 (about 24.8 days), got ",
      );
    }
  });
});
