import { createFoundry } from "../../../src/index.js";
import { describe, expect, it, vi } from "vitest";
import type { ClaimRequest, PersistenceError, RecoveryCoordinator, WorkflowExecutionSnapshot } from "../../../src/persistence/index.js";
import { isHeldHere } from "../../../src/persistence/held-here.js";
import { deferred, rejectionOf } from "../../support/promises.js";
import { runCounts } from "../../support/counted-workflow.js";
import { aClaimWaitingForALane, holdingFirstAndThird, recoveryFixture, type RecoveryFixture } from "./fixtures.js";

// Counts every call the coordinator makes to the fixture's memory provider, by method.
function countCalls(fixture: RecoveryFixture): Record<string, number> {
  const calls: Record<string, number> = { tryLoad: 0, save: 0, delete: 0, list: 0, claim: 0 };
  for (const method of ["tryLoad", "save", "delete", "list", "claim"] as const) {
    const original = fixture.provider[method].bind(fixture.provider) as (...args: unknown[]) => unknown;
    (fixture.provider as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => ((calls[method] = (calls[method] ?? 0) + 1), original(...args));
  }
  return calls;
}

/** A claim the stalled store holds: the test answers it, and the answer settles once the store ran it. */
interface StalledClaim {
  readonly request: ClaimRequest;
  readonly answer: () => Promise<WorkflowExecutionSnapshot[]>;
}

/**
 * Replaces the fixture's claim() with a store that stalls: each claim waits in `queued` until the
 * test answers it. The store runs it `"as sent"` (in time; only its answer stalls) or `"when
 * answered"` (late, once the stall ends). `restore()` puts the fixture's own claim() back.
 */
function stallClaims(fixture: RecoveryFixture, runs: "as sent" | "when answered") {
  const claim = fixture.provider.claim.bind(fixture.provider);
  const queued: StalledClaim[] = [];
  fixture.provider.claim = (request: ClaimRequest) =>
    new Promise((resolve) => {
      let sent = runs === "as sent" ? claim(request) : undefined;
      queued.push({ request, answer: () => (resolve((sent ??= claim(request))), sent) });
    });
  return { queued, restore: () => void (fixture.provider.claim = claim) };
}

/** Runs `body` on fake timers and a fake clock: what matters is how many leases pass, which a busy machine must not decide. */
async function onFakeLeases(body: () => Promise<void>): Promise<void> {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "performance", "Date"] });
  try {
    await body();
  } finally {
    vi.useRealTimers();
  }
}

/** Passes of `coordinators` in turn (leases of 1 s), each failing on its unanswered claim, until `count` claims are queued. */
async function passesUntil(queued: readonly StalledClaim[], count: number, coordinators: readonly RecoveryCoordinator[]): Promise<void> {
  for (let pass = 0; queued.length < count; pass++) {
    const failed = rejectionOf<PersistenceError>(coordinators[pass % coordinators.length]!.resumeAll());
    await vi.advanceTimersByTimeAsync(1_010);
    expect(await failed).toMatchObject({ call: "claim" });
  }
}

describe("resumeAll with a provider that claims in pages", () => {
  it("calls the provider once per checkpoint and delete, and claims a page per call: no load, no list, no claim save", async () => {
    const fixture = recoveryFixture();
    for (let index = 0; index < 8; index++) fixture.interrupted();
    const calls = countCalls(fixture);
    const report = await fixture.coordinator({ concurrency: 4 }).resumeAll();
    expect(report.resumed).toHaveLength(8);
    // Operations 1 and 2 remain of each: two checkpoints and the delete. Two pages of four, and the empty one that ends the pass.
    expect(calls).toEqual({ tryLoad: 0, list: 0, save: 16, delete: 8, claim: 3 });
  });

  it("gives back, its attempt uncounted, a record of another workflow name that a store matching names loosely claimed for a filtered pass", async () => {
    const fixture = recoveryFixture();
    const own = fixture.interrupted({ attempts: 1 });
    const other = fixture.interrupted({ workflowName: "Orders\uFFFD", attempts: 1 });
    // As a store that cannot tell two spellings apart would: every name matches the filter's.
    const claim = fixture.provider.claim.bind(fixture.provider);
    fixture.provider.claim = (request: ClaimRequest) => claim({ owner: request.owner, now: request.now, leaseExpiresAt: request.leaseExpiresAt, limit: request.limit, maxAttempts: request.maxAttempts });
    const report = await fixture.coordinator().resumeAll({ workflowName: fixture.workflow.name });
    expect(report.resumed.map((item) => item.instanceId)).toEqual([own.instanceId]);
    expect([...report.failed, ...report.skipped]).toEqual([]);
    const left = fixture.stored(other.instanceId);
    expect(left).toMatchObject({ workflowName: "Orders\uFFFD", attempts: 1, status: "running" });
    expect(left?.leaseExpiresAt).toBeUndefined();
  });

  it("does not end a filtered pass at a page of strays alone: the records of its own behind them still run", async () => {
    const fixture = recoveryFixture();
    // Two strays stand first; with concurrency 1 a page is one record.
    const strays = [fixture.interrupted({ workflowName: "Orders\uFFFD" }), fixture.interrupted({ workflowName: "Orders\uFFFD" })];
    const own = fixture.interrupted();
    const claim = fixture.provider.claim.bind(fixture.provider);
    const limits: number[] = [];
    fixture.provider.claim = (request: ClaimRequest) => (limits.push(request.limit), claim({ owner: request.owner, now: request.now, leaseExpiresAt: request.leaseExpiresAt, limit: request.limit, maxAttempts: request.maxAttempts }));
    const report = await fixture.coordinator({ concurrency: 1 }).resumeAll({ workflowName: fixture.workflow.name });
    expect(report.resumed.map((item) => item.instanceId)).toEqual([own.instanceId]);
    for (const stray of strays) expect(fixture.stored(stray.instanceId)?.leaseExpiresAt).toBeUndefined();
    expect(limits.slice(0, 3)).toEqual([1, 2, 4]);
  });

  it("leaves instances under a live lease, completed ones and dead letters alone, and does not report them", async () => {
    const fixture = recoveryFixture();
    const error = { name: "Error", message: "boom", operationIndex: 1, operationName: "op-1" };
    const free = fixture.interrupted({ status: "failed", attempts: 2, error });
    const left = [
      fixture.interrupted({ owner: "worker-2", leaseExpiresAt: new Date(Date.now() + 60_000).toISOString() }),
      fixture.interrupted({ status: "failed", attempts: 3, error, leaseExpiresAt: undefined }),
      fixture.interrupted({ status: "completed", nextOperationIndex: 3 }),
    ];
    const report = await fixture.coordinator().resumeAll();
    expect(report.resumed.map((item) => [item.instanceId, item.attempts])).toEqual([[free.instanceId, 3]]);
    expect([...report.failed, ...report.skipped]).toEqual([]);
    for (const ref of left) expect(fixture.stored(ref.instanceId)?.revision).toBe(1);
  });

  it("counts the claim's attempt once: a record at its last attempt runs once, as it does without claim()", async () => {
    const outcome = async (listOnly: boolean) => {
      const fixture = recoveryFixture({
        listOnly,
        onForge: (index) => {
          if (index === 1) throw new Error("still broken");
        },
      });
      const error = { name: "Error", message: "boom", operationIndex: 1, operationName: "op-1" };
      const ref = fixture.interrupted({ status: "failed", attempts: 2, error });
      const report = await fixture.coordinator({ retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 1 } }).resumeAll();
      const stored = fixture.stored(ref.instanceId);
      return { failed: report.failed.map((item) => [item.attempts, item.deadLettered]), runs: runCounts(fixture.log, 3), stored: [stored?.status, stored?.attempts] };
    };
    const claimed = await outcome(false);
    expect(claimed).toEqual(await outcome(true));
    expect(claimed.runs).toEqual([0, 1, 0]);
    expect(claimed.failed[0]?.[0]).toBe(3);
  });

  it("hands resolveWorkflow and createFoundry the record as stored before the attempt, with or without claim()", async () => {
    const seen = async (listOnly: boolean) => {
      const fixture = recoveryFixture({ listOnly });
      fixture.interrupted({ attempts: 1 });
      const attempts: (number | undefined)[] = [];
      const coordinator = fixture.coordinator({
        resolveWorkflow: (snapshot) => {
          attempts.push(snapshot.attempts);
          return fixture.workflow;
        },
        createFoundry: (snapshot) => {
          attempts.push(snapshot.attempts);
          return createFoundry(snapshot.workflowName, { executionId: snapshot.foundryExecutionId });
        },
      });
      await coordinator.resumeAll();
      return attempts;
    };
    expect(await seen(false)).toEqual([1, 1]);
    expect(await seen(true)).toEqual([1, 1]);
  });

  it("spends no attempt on an instance whose workflow it does not know, and does not claim it again in the same pass", async () => {
    const fixture = recoveryFixture();
    const ref = fixture.interrupted({ workflowName: "Refunds", attempts: 1 });
    const calls = countCalls(fixture);
    const report = await fixture.coordinator().resumeAll();
    expect(report.failed).toMatchObject([{ instanceId: ref.instanceId, attempts: 1, deadLettered: false }]);
    expect(report.failed[0]?.error.message).toMatch(/no workflow definition for "Refunds"/);
    // The claim, the attempt given back (the lease kept), and the empty page that ends the pass.
    expect(calls).toMatchObject({ claim: 2, save: 1 });
    expect(fixture.stored(ref.instanceId)).toMatchObject({ attempts: 1, owner: "worker-1", revision: 3 });
  });

  it("gives back a claim that waited for a lane half its lease, and runs it later on a claim of its own: no attempt lost", async () => {
    // Two lanes. The first and third runs to start are held, so the page claimed when the second
    // finishes runs one record and leaves the other waiting, both lanes busy.
    const gate = deferred();
    const { onForge } = holdingFirstAndThird(gate.promise);
    const fixture = recoveryFixture({ onForge });
    const refs = Array.from({ length: 4 }, () => fixture.interrupted());
    // The lanes are let go once a waiting claim was given back: its lease cleared, its attempt restored.
    const save = fixture.provider.save.bind(fixture.provider);
    const givenBack: string[] = [];
    fixture.provider.save = (snapshot: WorkflowExecutionSnapshot): void => {
      save(snapshot);
      if (snapshot.leaseExpiresAt === undefined && snapshot.status === "running") {
        givenBack.push(snapshot.foundryExecutionId);
        gate.resolve();
      }
    };
    // A lease long enough that the held runs keep theirs on a busy machine (a stall of a whole lease
    // would lose them); the waiting claim is given back after half of it.
    const report = await fixture.coordinator({ concurrency: 2, leaseTtlMs: 1_000 }).resumeAll();
    expect(givenBack).toHaveLength(1);
    expect(report.skipped).toEqual([]);
    expect(report.resumed.map((item) => item.instanceId).sort()).toEqual(refs.map((ref) => ref.instanceId).sort());
    expect(report.resumed.map((item) => item.attempts)).toEqual([1, 1, 1, 1]);
    expect(runCounts(fixture.log, 3)).toEqual([0, 4, 4]);
  }, 20_000);

  it("sends no claim while one it stopped waiting for is unanswered, and claims afresh once it is answered: a store back from a stall counts one attempt", async () => {
    const fixture = recoveryFixture();
    const ref = fixture.interrupted();
    // A store that stalls: claims run once it comes back, in the order sent. The one claim sent has
    // a lease that ended meanwhile, so the store claims nothing with it (claimArrivedLate).
    const claim = fixture.provider.claim.bind(fixture.provider);
    const thawed = deferred();
    const answered: Promise<unknown>[] = [];
    fixture.provider.claim = (request: ClaimRequest) => {
      const answer = Promise.all([thawed.promise, ...answered]).then(() => claim(request));
      answered.push(answer.catch(() => undefined));
      return answer;
    };
    // A lease long enough that the run after the stall keeps its own on a busy machine.
    const coordinator = fixture.coordinator({ leaseTtlMs: 1_000 });
    const stalled = [await rejectionOf<PersistenceError>(coordinator.resumeAll()), await rejectionOf<PersistenceError>(coordinator.resumeAll())];
    expect(stalled.map((error) => [error.name, error.call])).toEqual([["PersistenceError", "claim"], ["PersistenceError", "claim"]]);
    expect(stalled[1]?.message).toMatch(/an earlier claim of this coordinator is still unanswered/);
    expect(answered).toHaveLength(1);
    thawed.resolve();
    // The next pass waits for the late page to be given back, then claims the instance afresh.
    const report = await coordinator.resumeAll();
    expect(report.resumed).toMatchObject([{ instanceId: ref.instanceId, attempts: 1 }]);
    expect(runCounts(fixture.log, 3)).toEqual([0, 1, 1]);
  });

  it("takes back the attempts of claims answered late that were sent after the hold lapsed: a store whose answers stalled for six leases counts one", async () => {
    const fixture = recoveryFixture();
    const ref = fixture.interrupted();
    // The store runs each claim as it is sent, in time, and its answers stall: once they come, all
    // of them arrive, in the order sent, before anything sent after them (the give-backs of their pages).
    const stalled = stallClaims(fixture, "as sent");
    const coordinator = fixture.coordinator({ leaseTtlMs: 1_000 });
    await onFakeLeases(async () => {
      // Passes one after the other: the first claim, four held off, and the one sent once five leases passed.
      await passesUntil(stalled.queued, 2, [coordinator]);
      for (const { answer } of stalled.queued) void answer();
      await vi.advanceTimersByTimeAsync(10);
    });
    stalled.restore();
    // Each page counted an attempt in the store; the last give-back took both back.
    expect(fixture.stored(ref.instanceId)).toMatchObject({ attempts: 0 });
    expect(fixture.stored(ref.instanceId)?.leaseExpiresAt).toBeUndefined();
    const report = await coordinator.resumeAll();
    expect(report.resumed).toMatchObject([{ instanceId: ref.instanceId, attempts: 1 }]);
    expect(runCounts(fixture.log, 3)).toEqual([0, 1, 1]);
  });

  it("spends no attempt on claims of two coordinators that a stalled store runs late, alternating: the store claims nothing with them", async () => {
    const fixture = recoveryFixture();
    const ref = fixture.interrupted();
    // A stalled store: claims queue; once it comes back it runs them one after another, in the order sent.
    const stalled = stallClaims(fixture, "when answered");
    // Their passes a lease apart: each one's claim finds the other's lease ended, by its own `now`.
    const workers = ["worker-a", "worker-b"].map((owner) => fixture.coordinator({ owner, leaseTtlMs: 1_000, retry: { attempts: 3 } }));
    await onFakeLeases(async () => {
      // Until each has sent a second claim, once its hold of five leases lapsed: four claims, alternating.
      await passesUntil(stalled.queued, 4, workers);
      expect(stalled.queued.map(({ request }) => request.owner)).toEqual(["worker-a", "worker-b", "worker-a", "worker-b"]);
      for (const { answer } of stalled.queued) await answer();
      await vi.advanceTimersByTimeAsync(10);
    });
    stalled.restore();
    expect(fixture.stored(ref.instanceId)).toMatchObject({ revision: 1, owner: "dead-worker" });
    const report = await workers[0]!.resumeAll();
    expect(report.resumed).toMatchObject([{ instanceId: ref.instanceId, attempts: 1 }]);
    expect(report.failed).toEqual([]);
    expect(runCounts(fixture.log, 3)).toEqual([0, 1, 1]);
  });

  it("sends no claim once it is closing, though an earlier claim answers while the pass waits for it", async () => {
    const fixture = recoveryFixture();
    fixture.interrupted();
    const claim = fixture.provider.claim.bind(fixture.provider);
    const thawed = deferred();
    let sent = 0;
    fixture.provider.claim = async (request: ClaimRequest) => (sent++, await thawed.promise, claim(request));
    const coordinator = fixture.coordinator({ leaseTtlMs: 1_000 });
    expect(await rejectionOf(coordinator.resumeAll())).toMatchObject({ call: "claim" });
    const held = coordinator.resumeAll();
    const closing = coordinator.close();
    thawed.resolve();
    expect(await held).toMatchObject({ resumed: [], failed: [], skipped: [] });
    await closing;
    expect(sent).toBe(1);
  });

  it("ends a pass held off by an unanswered claim as soon as the coordinator begins to close, not a lease later", async () => {
    const fixture = recoveryFixture();
    fixture.interrupted();
    const stalled = stallClaims(fixture, "when answered");
    const coordinator = fixture.coordinator({ leaseTtlMs: 1_000 });
    let closing: Promise<void> | undefined;
    await onFakeLeases(async () => {
      await passesUntil(stalled.queued, 1, [coordinator]);
      const held = coordinator.resumeAll();
      closing = coordinator.close();
      // No fake time passes: only the close can end the wait (setImmediate runs on the real clock).
      const first = await Promise.race([held.then(() => "settled"), new Promise((resolve) => setImmediate(resolve, "still held"))]);
      expect(first).toBe("settled");
      expect(await held).toMatchObject({ resumed: [], failed: [], skipped: [] });
    });
    void stalled.queued[0]!.answer();
    await closing;
    expect(stalled.queued).toHaveLength(1);
  });

  it("resume() of an instance a pass claimed and has not started yet leaves it to the pass: it runs once", async () => {
    const { fixture, coordinator, waiting, release } = await aClaimWaitingForALane();
    expect(await coordinator.resume(waiting, fixture.workflow.id)).toMatchObject({ status: "skipped", reason: "in-progress" });
    const report = await release();
    expect(report.resumed.map((item) => item.attempts)).toEqual([1, 1, 1, 1]);
    expect(report.resumed.map((item) => item.instanceId)).toContain(waiting);
    expect(runCounts(fixture.log, 3)).toEqual([0, 4, 4]);
  });

  it("gives back at once what it claimed but did not start when its signal aborts", async () => {
    const gate = deferred();
    const fixture = recoveryFixture({ onForge: (_index, _attempt, _foundry, signal) => (signal.aborted ? undefined : gate.promise) });
    const refs = Array.from({ length: 3 }, () => fixture.interrupted());
    // The first page is one record; the second is held back until the signal has aborted.
    const claim = fixture.provider.claim.bind(fixture.provider);
    const secondPage = deferred();
    let pages = 0;
    let started: string[] = [];
    fixture.provider.claim = async (request: ClaimRequest): Promise<WorkflowExecutionSnapshot[]> => {
      if (++pages === 1) {
        const page = await claim({ ...request, limit: 1 });
        started = page.map((snapshot) => snapshot.foundryExecutionId);
        return page;
      }
      await secondPage.promise;
      return claim(request);
    };
    const controller = new AbortController();
    const run = fixture.coordinator({ concurrency: 2 }).resumeAll(undefined, { signal: controller.signal });
    await vitestWaitFor(() => pages === 2);
    controller.abort();
    secondPage.resolve();
    gate.resolve();
    const report = await run;
    const givenBack = report.failed.filter((item) => item.error.name === "AbortError" && !started.includes(item.instanceId)).map((item) => item.instanceId);
    expect(started).toHaveLength(1);
    expect(givenBack).toHaveLength(2);
    expect(runCounts(fixture.log, 3)).toEqual([0, 1, 0]);
    for (const instanceId of givenBack) {
      const stored = fixture.stored(instanceId);
      expect(stored?.leaseExpiresAt).toBeUndefined();
      expect(stored?.attempts ?? 0).toBe(0);
      expect(isHeldHere({ foundryExecutionId: instanceId, workflowId: fixture.workflow.id })).toBe(false);
    }
    expect(refs.map((ref) => ref.instanceId)).toEqual(expect.arrayContaining(givenBack));
  });
});

async function vitestWaitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}
