import { describe, it, expect } from "vitest";
import type { MemoryPersistenceProvider} from "../../../src/persistence/index.js";
import {
  PersistenceError,
  RetriesExhaustedError,
  SnapshotCorruptedError,
  SnapshotSerializationError,
  SnapshotTooLargeError,
  WorkflowDefinitionMismatchError,
  usePersistence,
  type WorkflowExecutionSnapshot,
} from "../../../src/persistence/index.js";
import { resolveRetry, retryDelay } from "../../../src/persistence/recovery/retry.js";
import { createFoundry, createSmith } from "../../../src/index.js";
import { sleep } from "../../support/promises.js";
import { runCounts } from "../../support/counted-workflow.js";
import { recoveryFixture } from "./fixtures.js";

/**
 * A memory store whose checkpoint after operation 1 fails `times` times (every time by default),
 * throwing what `failure` makes of the snapshot.
 */
function failingCheckpoint(
  provider: MemoryPersistenceProvider,
  times = Number.POSITIVE_INFINITY,
  failure: (snapshot: WorkflowExecutionSnapshot) => Error = () => new Error("store unavailable"),
) {
  const saved = provider.save.bind(provider);
  const claims: number[] = [];
  let failures = 0;
  provider.save = (snapshot: WorkflowExecutionSnapshot) => {
    if (snapshot.nextOperationIndex === 1 && snapshot.status === "running" && snapshot.attempts !== undefined) claims.push(performance.now());
    if (snapshot.nextOperationIndex === 2 && failures < times) {
      failures++;
      throw failure(snapshot);
    }
    saved(snapshot);
  };
  return { claims, failures: () => failures };
}

describe("retry", () => {
  it("retries a run that left its instance resumable, and completes it when a later attempt succeeds", async () => {
    const fixture = recoveryFixture();
    failingCheckpoint(fixture.provider, 2);
    const { instanceId, workflowKey } = fixture.interrupted();
    const outcome = await fixture.coordinator({ retry: { attempts: 3, baseDelayMs: 1 } }).resume(instanceId, workflowKey);
    expect(outcome).toMatchObject({ status: "resumed", attempts: 3 });
    expect(runCounts(fixture.log, 3)).toEqual([0, 3, 1]);
  });

  it("makes `attempts` claims, then stores a dead letter: status failed, the last error and the attempt count", async () => {
    const fixture = recoveryFixture();
    const { claims } = failingCheckpoint(fixture.provider);
    const { instanceId, workflowKey } = fixture.interrupted();
    const outcome = await fixture.coordinator({ retry: { attempts: 3, baseDelayMs: 1 } }).resume(instanceId, workflowKey);

    expect(claims).toHaveLength(3);
    expect(outcome).toMatchObject({ status: "failed", deadLettered: true, attempts: 3 });
    const error = outcome.status === "failed" ? outcome.error : undefined;
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect(error?.cause).toBeInstanceOf(PersistenceError);
    expect(error?.message).toMatch(/failed after 3 attempts and is now a dead letter.*store unavailable/);
    const stored = fixture.stored(instanceId);
    expect(stored).toMatchObject({ status: "failed", attempts: 3, nextOperationIndex: 1, properties: { step: 1 } });
    expect(stored?.error).toMatchObject({ name: "PersistenceError", operationIndex: 1, operationName: "op-1" });
    expect(stored?.leaseExpiresAt).toBeUndefined();
  });

  it("never retries a dead letter again", async () => {
    const fixture = recoveryFixture();
    const error = { name: "Error", message: "boom", operationIndex: 1, operationName: "op-1" };
    // As a coordinator writes it: no lease (one with a lease is written so first).
    const { instanceId, workflowKey } = fixture.interrupted({ status: "failed", attempts: 3, error, leaseExpiresAt: undefined });
    const outcome = await fixture.coordinator({ retry: { attempts: 3 } }).resume(instanceId, workflowKey);
    expect(outcome).toMatchObject({ status: "skipped", reason: "dead-letter" });
    expect(runCounts(fixture.log, 3)).toEqual([0, 0, 0]);
    expect(fixture.stored(instanceId)?.revision).toBe(1);
  });

  it("dead-letters an instance whose every claimant died, without running it again", async () => {
    const fixture = recoveryFixture();
    const { instanceId, workflowKey } = fixture.interrupted({ attempts: 2 });
    const outcome = await fixture.coordinator({ retry: { attempts: 2 } }).resume(instanceId, workflowKey);
    expect(outcome).toMatchObject({ status: "failed", deadLettered: true, attempts: 2 });
    expect(outcome.status === "failed" && outcome.error.message).toMatch(/every process that claimed it stopped before finishing/);
    expect(runCounts(fixture.log, 3)).toEqual([0, 0, 0]);
    expect(fixture.stored(instanceId)).toMatchObject({ status: "failed", attempts: 2, error: { name: "RetriesExhaustedError", operationIndex: 1 } });
  });

  it("resumes a failed snapshot that has attempts left, re-executing the failed operation", async () => {
    const fixture = recoveryFixture();
    const error = { name: "Error", message: "timeout", operationIndex: 1, operationName: "op-1" };
    const { instanceId, workflowKey } = fixture.interrupted({ status: "failed", attempts: 1, error });
    expect(await fixture.coordinator({ retry: { attempts: 3 } }).resume(instanceId, workflowKey)).toMatchObject({ status: "resumed", attempts: 2 });
    expect(runCounts(fixture.log, 3)).toEqual([0, 1, 1]);
  });

  it("asks retryIf with the error and the attempt number, and stops at once when it says no", async () => {
    const fixture = recoveryFixture();
    failingCheckpoint(fixture.provider);
    const asked: [string, number][] = [];
    const retryIf = (error: unknown, attempt: number) => {
      asked.push([(error as Error).name, attempt]);
      return attempt < 2;
    };
    const { instanceId, workflowKey } = fixture.interrupted();
    const outcome = await fixture.coordinator({ retry: { attempts: 5, baseDelayMs: 1, retryIf } }).resume(instanceId, workflowKey);
    expect(asked).toEqual([
      ["PersistenceError", 1],
      ["PersistenceError", 2],
    ]);
    expect(outcome).toMatchObject({ status: "failed", deadLettered: false, attempts: 2 });
    expect(fixture.stored(instanceId)).toMatchObject({ status: "running", attempts: 2 });
  });

  it("waits baseDelayMs, then twice that, between attempts when jitter is 0", async () => {
    const fixture = recoveryFixture();
    const { claims } = failingCheckpoint(fixture.provider);
    const { instanceId, workflowKey } = fixture.interrupted();
    await fixture.coordinator({ retry: { attempts: 3, baseDelayMs: 40, maxDelayMs: 1_000, jitter: 0 } }).resume(instanceId, workflowKey);
    expect(claims).toHaveLength(3);
    expect((claims[1] as number) - (claims[0] as number)).toBeGreaterThanOrEqual(39);
    expect((claims[2] as number) - (claims[1] as number)).toBeGreaterThanOrEqual(79);
  });

  it("stops waiting when the signal aborts and reports the attempt's error", async () => {
    const fixture = recoveryFixture();
    failingCheckpoint(fixture.provider);
    const { instanceId, workflowKey } = fixture.interrupted();
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(), 30);
    const outcome = await fixture.coordinator({ retry: { attempts: 3, baseDelayMs: 60_000, maxDelayMs: 60_000 } }).resume(instanceId, workflowKey, { signal: controller.signal });
    expect(performance.now() - started).toBeLessThan(30_000);
    expect(outcome).toMatchObject({ status: "failed", deadLettered: false, attempts: 1 });
  });
});

describe("retryDelay", () => {
  const retry = { baseDelayMs: 100, maxDelayMs: 1_000, jitter: 0 };

  it("doubles from baseDelayMs and caps at maxDelayMs", () => {
    expect([1, 2, 3, 4, 5, 6].map((attempt) => retryDelay(retry, attempt))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it("draws the jitter share of the delay at random", () => {
    expect(retryDelay({ ...retry, jitter: 0.5 }, 2, () => 0)).toBe(200);
    expect(retryDelay({ ...retry, jitter: 0.5 }, 2, () => 1)).toBe(100);
    expect(retryDelay({ ...retry, jitter: 1 }, 2, () => 0.25)).toBe(150);
  });
});

describe("the default retryIf in a real run", () => {
  it("does not retry a run whose checkpoint the store's codec refuses: the first attempt's error is the outcome", async () => {
    const fixture = recoveryFixture();
    // As a storage provider does when its codec finds a function among the properties.
    const { failures } = failingCheckpoint(fixture.provider, Number.POSITIVE_INFINITY, (snapshot) => {
      const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
      return new SnapshotSerializationError({ keys, path: "properties.callback", reason: "functions cannot be stored" });
    });
    const { instanceId, workflowKey } = fixture.interrupted();
    const outcome = await fixture.coordinator({ retry: { attempts: 3, baseDelayMs: 1 } }).resume(instanceId, workflowKey);
    expect(failures()).toBe(1);
    expect(outcome).toMatchObject({ status: "failed", deadLettered: false, attempts: 1 });
    const error = outcome.status === "failed" ? outcome.error : undefined;
    // The codec's own error reaches the caller as it is: one problem, one error class.
    expect(error).toBeInstanceOf(SnapshotSerializationError);
    expect(error?.message.match(/\[workflowforge:persistence\]/g)).toHaveLength(1);
  });
});

describe("retry options", () => {
  it("defaults to 3 attempts, 100 ms doubling to 30 s, half jitter, and no retry of permanent failures", () => {
    const resolved = resolveRetry(undefined);
    expect(resolved).toMatchObject({ attempts: 3, baseDelayMs: 100, maxDelayMs: 30_000, jitter: 0.5 });
    expect(resolved.retryIf(new Error("network"), 1)).toBe(true);
    const keys = { foundryExecutionId: "a", workflowId: "b" };
    expect(resolved.retryIf(new WorkflowDefinitionMismatchError(keys, "Orders", "changed"), 1)).toBe(false);
    expect(resolved.retryIf(new SnapshotCorruptedError(keys, "bad"), 1)).toBe(false);
  });

  it("looks through PersistenceError wrappers for a permanent cause, as a run reports a codec's refusal", () => {
    const { retryIf } = resolveRetry(undefined);
    const keys = { foundryExecutionId: "a", workflowId: "b" };
    const refused = new SnapshotSerializationError({ keys, path: "properties.callback", reason: "functions cannot be stored" });
    const tooLarge = new SnapshotTooLargeError({ keys, bytes: 5_000_000, maxBytes: 4_194_304, largestProperties: [] });
    const wrapped = (cause: unknown) => new PersistenceError({ keys, call: "save", cause });
    expect(retryIf(wrapped(refused), 1)).toBe(false);
    expect(retryIf(wrapped(wrapped(tooLarge)), 1)).toBe(false);
    expect(retryIf(wrapped(new Error("connection reset")), 1)).toBe(true);
    expect(retryIf(wrapped(wrapped(new Error("connection reset"))), 1)).toBe(true);
  });

  it.each([
    [{ attempts: 0 }, /retry.attempts must be a positive integer/],
    [{ attempts: 1.5 }, /retry.attempts/],
    [{ baseDelayMs: -1 }, /retry.baseDelayMs/],
    [{ maxDelayMs: Number.NaN }, /retry.maxDelayMs/],
    [{ baseDelayMs: 500, maxDelayMs: 100 }, /must not be below baseDelayMs/],
    [{ jitter: 2 }, /retry.jitter must be a number from 0 to 1/],
    [{ retryIf: true }, /retry.retryIf/],
    [{ tries: 3 }, /unknown option "tries"/],
  ])("rejects %o with a TypeError naming it", (options, message) => {
    expect(() => resolveRetry(options as never)).toThrow(message);
  });
});

describe("failures in the caller's callbacks", () => {
  it("reports a retryIf that throws as the instance's failure, and resumeAll still resolves", async () => {
    const fixture = recoveryFixture();
    failingCheckpoint(fixture.provider);
    const broken = fixture.interrupted();
    const fine = fixture.interrupted({ workflowName: "Elsewhere" });
    const retryIf = () => {
      throw new Error("retryIf is broken");
    };
    const report = await fixture.coordinator({ retry: { retryIf } }).resumeAll();
    const messages = Object.fromEntries(report.failed.map((item) => [item.instanceId, item.error.message]));
    expect(messages[broken.instanceId]).toBe("retryIf is broken");
    expect(messages[fine.instanceId]).toMatch(/no workflow definition/);
  });

  it("refuses a createFoundry that hands out the same foundry twice", async () => {
    const fixture = recoveryFixture();
    failingCheckpoint(fixture.provider, 1);
    const { instanceId, workflowKey } = fixture.interrupted();
    const shared = createFoundry("Orders");
    const outcome = await fixture.coordinator({ createFoundry: () => shared, retry: { attempts: 3, baseDelayMs: 1 } }).resume(instanceId, workflowKey);
    expect(outcome).toMatchObject({ status: "failed", deadLettered: false, attempts: 1 });
    expect(outcome.status === "failed" && outcome.error.message).toMatch(/^createRecoveryCoordinator\(options\): options\.createFoundry returned foundry "Orders", which already uses persistence: the coordinator adds it/);
  });

  it("names createFoundry, not the caller's usePersistence, when createFoundry adds persistence itself", async () => {
    const fixture = recoveryFixture();
    const { instanceId, workflowKey } = fixture.interrupted();
    const createOwn = () => usePersistence(createFoundry("Orders"), fixture.provider, { instanceId, workflowKey });
    const outcome = await fixture.coordinator({ createFoundry: createOwn }).resume(instanceId, workflowKey);
    expect(outcome).toMatchObject({ status: "failed" });
    expect(outcome.status === "failed" && outcome.error).toBeInstanceOf(TypeError);
    expect(outcome.status === "failed" && outcome.error.message).toContain("options.createFoundry returned foundry \"Orders\", which already uses persistence: the coordinator adds it to each run itself, so return a new foundry, without usePersistence, from every call");
  });
});

describe("a smith timeout", () => {
  it("does not start another attempt while the timed-out run is still executing", async () => {
    // The second attempt must finish within it too: room for a busy machine, where 30 ms was not.
    const timeoutMs = 500;
    const spans: [number, number][] = [];
    const fixture = recoveryFixture({
      // Operation 1 ignores its signal and outlives the smith's timeout the first time.
      onForge: async (index, attempt) => {
        if (index !== 1) return;
        const start = performance.now();
        await sleep(attempt === 1 ? timeoutMs + 100 : 1);
        spans.push([start, performance.now()]);
      },
    });
    const { instanceId, workflowKey } = fixture.interrupted();
    const outcome = await fixture.coordinator({ smith: createSmith({ timeoutMs }), retry: { attempts: 3, baseDelayMs: 1 } }).resume(instanceId, workflowKey);
    expect(outcome).toMatchObject({ status: "resumed", attempts: 2 });
    expect(spans).toHaveLength(2);
    expect((spans[1] as [number, number])[0]).toBeGreaterThanOrEqual((spans[0] as [number, number])[1]);
  });
});

describe("dead letters of a compensation", () => {
  it("keep status compensating, so a later resume finishes undoing instead of running forward", async () => {
    const fixture = recoveryFixture({ restore: () => true });
    const error = { name: "Error", message: "card declined", operationIndex: 2, operationName: "op-2" };
    const { instanceId, workflowKey } = fixture.interrupted({ status: "compensating", nextOperationIndex: 2, outputs: { 0: "a", 1: "b" }, error, attempts: 3, leaseExpiresAt: undefined });
    const outcome = await fixture.coordinator({ retry: { attempts: 3 } }).resume(instanceId, workflowKey);
    expect(outcome).toMatchObject({ status: "skipped", reason: "dead-letter" });
    expect(fixture.stored(instanceId)).toMatchObject({ status: "compensating", nextOperationIndex: 2, error });
    expect(fixture.log.events).toEqual([]);
  });
});
