import { describe, it, expect } from "vitest";
import { createFoundry, createSmith } from "../../../src/index.js";
import {
  MemoryPersistenceProvider,
  SnapshotConflictError,
  UnknownWorkflowError,
  WorkflowCompensatedError,
  createRecoveryCoordinator,
  usePersistence,
  type WorkflowPersistenceProvider,
} from "../../../src/persistence/index.js";
import { deferred } from "../../support/promises.js";
import { runCounts } from "../../support/counted-workflow.js";
import { recoveryFixture } from "./fixtures.js";

/** Holds operation `held` until `gate` resolves; `started` resolves when it begins. */
function holdAtStep(held: number) {
  const gate = deferred();
  const started = deferred();
  const onForge = async (index: number): Promise<void> => {
    if (index !== held) return;
    started.resolve();
    await gate.promise;
  };
  return { gate, started, onForge };
}

describe("coordinator.resume", () => {
  it("takes over an instance whose lease expired, skips its completed operations and completes it", async () => {
    const fixture = recoveryFixture();
    const { instanceId, workflowKey } = fixture.interrupted();
    const outcome = await fixture.coordinator().resume(instanceId, workflowKey);
    expect(outcome).toMatchObject({ status: "resumed", instanceId, workflowKey, output: "out-2", attempts: 1 });
    expect(runCounts(fixture.log, 3)).toEqual([0, 1, 1]);
    expect(fixture.log.inputs[1]).toEqual(["out-0"]);
    expect(fixture.stored(instanceId)).toBeUndefined();
  });

  it("claims with its owner, a lease and the attempt counted before the first operation runs", async () => {
    const { gate, started, onForge } = holdAtStep(1);
    const fixture = recoveryFixture({ onForge });
    const { instanceId, workflowKey } = fixture.interrupted({ attempts: 1 });
    const outcome = fixture.coordinator({ leaseTtlMs: 20_000 }).resume(instanceId, workflowKey);
    await started.promise;
    const claim = fixture.stored(instanceId);
    gate.resolve();
    expect(claim).toMatchObject({ owner: "worker-1", attempts: 2, status: "running", nextOperationIndex: 1, revision: 2 });
    expect(Date.parse(claim?.leaseExpiresAt ?? "") - Date.now()).toBeGreaterThan(15_000);
    expect(await outcome).toMatchObject({ status: "resumed", attempts: 2 });
  });

  it("skips an instance another owner holds a live lease on and runs nothing", async () => {
    const fixture = recoveryFixture();
    const leaseExpiresAt = new Date(Date.now() + 60_000).toISOString();
    const { instanceId, workflowKey } = fixture.interrupted({ owner: "worker-2", leaseExpiresAt });
    const outcome = await fixture.coordinator().resume(instanceId, workflowKey);
    expect(outcome).toMatchObject({ status: "skipped", reason: "claimed" });
    expect(outcome.status === "skipped" && outcome.detail).toContain("worker-2");
    expect(runCounts(fixture.log, 3)).toEqual([0, 0, 0]);
    expect(fixture.stored(instanceId)?.revision).toBe(1);
  });

  it("skips absent and completed instances", async () => {
    const fixture = recoveryFixture();
    const coordinator = fixture.coordinator();
    expect(await coordinator.resume("nobody", fixture.workflow.id)).toMatchObject({ status: "skipped", reason: "absent" });
    const { instanceId, workflowKey } = fixture.interrupted({ status: "completed", nextOperationIndex: 3 });
    expect(await coordinator.resume(instanceId, workflowKey)).toMatchObject({ status: "skipped", reason: "completed" });
    expect(runCounts(fixture.log, 3)).toEqual([0, 0, 0]);
  });

  it("reports a workflow resolveWorkflow does not know as failed with UnknownWorkflowError, spending no attempt", async () => {
    const fixture = recoveryFixture();
    const { instanceId, workflowKey } = fixture.interrupted({ workflowName: "Refunds" });
    const outcome = await fixture.coordinator().resume(instanceId, workflowKey);
    expect(outcome).toMatchObject({ status: "failed", deadLettered: false, attempts: 0 });
    expect(outcome.status === "failed" && outcome.error).toBeInstanceOf(UnknownWorkflowError);
    expect(fixture.stored(instanceId)).toMatchObject({ status: "running", revision: 1 });
  });

  it("finishes an interrupted compensation and reports WorkflowCompensatedError without retrying", async () => {
    const fixture = recoveryFixture({ restore: () => true });
    const error = { name: "Error", message: "card declined", operationIndex: 2, operationName: "op-2" };
    const { instanceId, workflowKey } = fixture.interrupted({ status: "compensating", nextOperationIndex: 2, outputs: { 0: "out-0", 1: "out-1" }, error });
    const outcome = await fixture.coordinator({ retry: { attempts: 5, baseDelayMs: 1 } }).resume(instanceId, workflowKey);
    expect(outcome).toMatchObject({ status: "failed", deadLettered: false, attempts: 1 });
    expect(outcome.status === "failed" && outcome.error).toBeInstanceOf(WorkflowCompensatedError);
    expect(fixture.log.events).toEqual(["restore:1", "restore:0"]);
    expect(fixture.stored(instanceId)).toBeUndefined();
  });

  it("runs through the given smith and the foundry createFoundry builds, with their middleware and events", async () => {
    const fixture = recoveryFixture();
    const { instanceId, workflowKey } = fixture.interrupted({ properties: { step: 1, customer: "ada" } });
    const seen: string[] = [];
    const smith = createSmith().use(async (context, next) => {
      seen.push(`workflow:${context.workflow.name}`);
      return next();
    });
    smith.on("workflowCompleted", () => seen.push("completed"));
    const coordinator = fixture.coordinator({
      smith,
      createFoundry: (snapshot) => {
        const foundry = createFoundry(snapshot.workflowName, { executionId: snapshot.foundryExecutionId });
        foundry.use(async (context, next) => {
          seen.push(`operation:${context.index}:${String(context.foundry.properties.customer)}`);
          return next();
        });
        foundry.on("operationSkipped", ({ index }) => seen.push(`skipped:${index}`));
        return foundry;
      },
    });
    await coordinator.resume(instanceId, workflowKey);
    // Persistence settles the run in its start hook: the completed operation is skipped without
    // calling any middleware, and the middleware outside persistence sees the restored properties.
    expect(seen).toEqual(["workflow:Orders", "skipped:0", "operation:1:ada", "operation:2:ada", "completed"]);
  });

  it("reports a createFoundry that returns no foundry as a TypeError naming the option, and spends no attempt", async () => {
    const fixture = recoveryFixture();
    const { instanceId, workflowKey } = fixture.interrupted();
    // JavaScript callers: a braces-bodied arrow that forgot its return, or the workflow in place of a foundry.
    for (const made of [undefined, fixture.workflow]) {
      const outcome = await fixture.coordinator({ createFoundry: () => made as never }).resume(instanceId, workflowKey);
      expect(outcome).toMatchObject({ status: "failed", attempts: 0 });
      expect(outcome.status === "failed" && outcome.error).toEqual(
        new TypeError(`createRecoveryCoordinator(options): what options.createFoundry(snapshot) returned must be created with createFoundry(), got ${made === undefined ? "undefined" : "object"}`),
      );
    }
  });

  it("keeps the completed record when onComplete is keep", async () => {
    const fixture = recoveryFixture();
    const { instanceId, workflowKey } = fixture.interrupted();
    await fixture.coordinator({ onComplete: "keep" }).resume(instanceId, workflowKey);
    expect(fixture.stored(instanceId)).toMatchObject({ status: "completed", nextOperationIndex: 3, attempts: 1 });
  });

  it("does not resume one instance twice at once in the same coordinator", async () => {
    const gate = deferred();
    const fixture = recoveryFixture({ onForge: () => gate.promise });
    const { instanceId, workflowKey } = fixture.interrupted();
    const coordinator = fixture.coordinator();
    const first = coordinator.resume(instanceId, workflowKey);
    const second = await coordinator.resume(instanceId, workflowKey);
    gate.resolve();
    expect(second).toMatchObject({ status: "skipped", reason: "in-progress" });
    expect(await first).toMatchObject({ status: "resumed" });
  });

  it("reports a run another worker took over meanwhile as skipped, not failed", async () => {
    const { gate, started, onForge } = holdAtStep(1);
    const fixture = recoveryFixture({ onForge });
    const { instanceId, workflowKey } = fixture.interrupted();
    const outcome = fixture.coordinator().resume(instanceId, workflowKey);
    await started.promise;
    const claim = fixture.stored(instanceId);
    if (claim === undefined) throw new Error("expected the claim");
    fixture.provider.save({ ...claim, owner: "worker-2", revision: claim.revision + 1 });
    gate.resolve();
    expect(await outcome).toMatchObject({ status: "skipped", reason: "claimed" });
    expect(fixture.stored(instanceId)?.owner).toBe("worker-2");
  });
});

describe("coordinator.enqueue", () => {
  it("stores an instance that has not started, which resume then runs from the first operation with its properties", async () => {
    const fixture = recoveryFixture({ onForge: (index, _attempt, foundry) => void (foundry.properties[`saw-${index}`] = foundry.properties.customer) });
    const coordinator = fixture.coordinator({ onComplete: "keep" });
    const ref = await coordinator.enqueue(fixture.workflow, { instanceId: "order-7", properties: { customer: "ada" } });
    expect(ref).toEqual({ instanceId: "order-7", workflowKey: "Orders@1" });
    expect(fixture.stored("order-7")).toMatchObject({ status: "running", nextOperationIndex: 0, revision: 1, properties: { customer: "ada" } });
    expect(fixture.stored("order-7")?.owner).toBeUndefined();
    expect(await coordinator.resume(ref.instanceId, ref.workflowKey)).toMatchObject({ status: "resumed", output: "out-2" });
    expect(fixture.stored("order-7")?.properties).toEqual({ customer: "ada", "saw-0": "ada", "saw-1": "ada", "saw-2": "ada" });
  });

  it("refuses an instance that exists and has not completed, and replaces a completed one", async () => {
    const fixture = recoveryFixture();
    const coordinator = fixture.coordinator();
    const { instanceId } = fixture.interrupted();
    await expect(coordinator.enqueue(fixture.workflow, { instanceId })).rejects.toThrow(SnapshotConflictError);
    const done = fixture.interrupted({ status: "completed", nextOperationIndex: 3 });
    await coordinator.enqueue(fixture.workflow, { instanceId: done.instanceId });
    expect(fixture.stored(done.instanceId)).toMatchObject({ status: "running", nextOperationIndex: 0, revision: 2 });
  });

  it("rejects bad arguments with a TypeError naming them", () => {
    const coordinator = recoveryFixture().coordinator();
    const workflow = recoveryFixture().workflow;
    expect(() => coordinator.enqueue({} as never, { instanceId: "x" } as never)).toThrow(/workflow must be built/);
    expect(() => coordinator.enqueue(workflow, { instanceId: "" })).toThrow(/options.instanceId/);
    expect(() => coordinator.enqueue(workflow, { instanceId: "x", tenant: 1 } as never)).toThrow(/unknown option "tenant"/);
  });
});

describe("createRecoveryCoordinator options", () => {
  const resolveWorkflow = () => undefined;
  const plain: WorkflowPersistenceProvider = { save() {}, tryLoad: () => undefined, delete() {} };

  it("needs a provider that declares compare-and-set and list", () => {
    expect(() => createRecoveryCoordinator({ provider: plain, resolveWorkflow })).toThrow(/compareAndSet and capabilities.list/);
  });

  it.each([
    ["resolveWorkflow", { resolveWorkflow: "no" }, /options.resolveWorkflow/],
    ["concurrency", { concurrency: 0 }, /options.concurrency must be an integer from 1 to 65536, got 0/],
    ["leaseTtlMs", { leaseTtlMs: -1 }, /options.leaseTtlMs/],
    ["owner", { owner: "" }, /options.owner/],
    ["an unknown key", { retries: 3 }, /unknown option "retries"/],
    ["onComplete", { onComplete: "archive" }, /^createRecoveryCoordinator\(options\): options\.onComplete/],
    ["onDefinitionMismatch", { onDefinitionMismatch: "retry" }, /^createRecoveryCoordinator\(options\): options\.onDefinitionMismatch/],
  ])("rejects a bad %s with a TypeError naming the coordinator's option", (_what, bad, message) => {
    expect(() => createRecoveryCoordinator({ provider: new MemoryPersistenceProvider(), resolveWorkflow, ...(bad as object) })).toThrow(message);
  });

  it("refuses a provider that declares a capability without its method, rather than resuming nothing forever", () => {
    const withCapabilities = (capabilities: object): WorkflowPersistenceProvider => ({ ...plain, capabilities: { compareAndSet: true, list: true, ...capabilities }, list: () => Promise.resolve([]) });
    // list() misspelled, as in a hand-written provider.
    const misspelled = { ...plain, capabilities: { compareAndSet: true, list: true }, listAll: () => Promise.resolve([]) };
    expect(() => createRecoveryCoordinator({ provider: misspelled, resolveWorkflow })).toThrow(/options\.provider declares capabilities\.list but has no list\(\) method/);
    expect(() => createRecoveryCoordinator({ provider: withCapabilities({ claim: true }), resolveWorkflow })).toThrow(/declares capabilities\.claim but has no claim\(\) method/);
    expect(() => createRecoveryCoordinator({ provider: withCapabilities({ mailbox: true }), resolveWorkflow })).toThrow(/declares capabilities\.mailbox but has no deliver\(\) or receive\(\) method/);
    expect(() => createRecoveryCoordinator({ provider: withCapabilities({ push: true }), resolveWorkflow })).toThrow(/declares capabilities\.push but has no subscribe\(\) method/);
    expect(() => usePersistence(createFoundry("x"), withCapabilities({ mailbox: true }), { instanceId: "x" })).toThrow(/^usePersistence\(foundry, provider, options\): provider declares capabilities\.mailbox/);
  });

  it("rejects bad resume arguments", () => {
    const coordinator = recoveryFixture().coordinator();
    expect(() => coordinator.resume("", "Orders@1")).toThrow(/instanceId must be a non-empty string/);
    expect(() => coordinator.resume("a", "Orders@1", { signal: "stop" } as never)).toThrow(/options.signal/);
  });

  // A misspelt key would otherwise run without the caller's signal, which could then never stop it.
  it("rejects run options resumeAll() would reject, in resume() and enqueue() too", () => {
    const fixture = recoveryFixture();
    const coordinator = fixture.coordinator();
    const { signal } = new AbortController();
    for (const bad of [{ sigal: signal }, null, "signal"]) {
      expect(() => coordinator.resumeAll(undefined, bad as never)).toThrow(TypeError);
      expect(() => coordinator.resume("a", "Orders@1", bad as never)).toThrow(/^coordinator\.resume\(instanceId, workflowKey, options\): options/);
      expect(() => coordinator.enqueue(fixture.workflow, { instanceId: "e1" }, bad as never)).toThrow(/^coordinator\.enqueue\(workflow, options, runOptions\): runOptions/);
    }
    expect(() => coordinator.resume("a", "Orders@1", { sigal: signal } as never)).toThrow('unknown option "sigal"');
  });
});
