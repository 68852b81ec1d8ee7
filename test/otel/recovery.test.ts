import { describe, expect, it } from "vitest";
import { instrument } from "../../src/otel/index.js";
import { createSmith, createWorkflow } from "../../src/index.js";
import { MemoryPersistenceProvider, createRecoveryCoordinator, type RecoveryOutcome, type WorkflowExecutionSnapshot } from "../../src/persistence/index.js";
import { recoveryFixture } from "../persistence/recovery/fixtures.js";
import { createHarness, parentOf } from "./harness.js";

describe("instrument(recovery coordinator options)", () => {
  it("traces every attempt as a run of the instance's one trace, and counts the dead letter it ends as", async () => {
    const otel = createHarness();
    const fixture = recoveryFixture();
    // Operation 1's checkpoint never lands: each attempt fails, and the last makes a dead letter.
    const save = fixture.provider.save.bind(fixture.provider);
    fixture.provider.save = (snapshot: WorkflowExecutionSnapshot) => {
      if (snapshot.nextOperationIndex === 2) throw new Error("store unavailable");
      save(snapshot);
    };
    const { instanceId, workflowKey } = fixture.interrupted();
    const seen: RecoveryOutcome[] = [];
    const options = instrument(
      {
        provider: fixture.provider,
        resolveWorkflow: () => fixture.workflow,
        owner: "worker-1",
        retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
        onOutcome: (outcome) => seen.push(outcome),
      },
      otel.options,
    );
    const outcome = await createRecoveryCoordinator(options).resume(instanceId, workflowKey);

    expect(outcome).toMatchObject({ status: "failed", deadLettered: true });
    expect(seen).toEqual([outcome]);
    const runs = otel.named("run Orders");
    expect(runs.map((span) => span.attributes["workflowforge.run.attempt"])).toEqual([1, 2]);
    expect(runs.map((span) => span.attributes["error.type"])).toEqual(["PERSISTENCE", "PERSISTENCE"]);
    // Each attempt claimed the instance before its first operation.
    expect(runs.map((span) => span.events.filter((event) => event.name === "workflowforge.claim.acquired").length)).toEqual([1, 1]);
    expect(runs[1]?.spanContext().traceId).toBe(runs[0]?.spanContext().traceId);
    expect(parentOf(runs[1]!)).toBe(runs[0]?.spanContext().spanId);
    // Each attempt skipped operation 0 (done before the interruption) and ran operation 1 again.
    expect(otel.named("operation op-1").map(parentOf)).toEqual(runs.map((span) => span.spanContext().spanId));
    expect(await otel.counter("workflowforge.dead_letter.stored", { "workflowforge.instance.workflow_key": workflowKey })).toBe(1);
    expect(await otel.counter("workflowforge.run.resumed")).toBe(2);
    expect(await otel.counter("workflowforge.run.failed", { "error.type": "PERSISTENCE" })).toBe(2);
  });

  it("reports the first run of an enqueued instance as no resume: no run.resumed, no rerun; the attempt after it is one", async () => {
    const otel = createHarness();
    const provider = new MemoryPersistenceProvider();
    // The first attempt's checkpoint after render never lands (the store blinked): the second runs render again.
    const save = provider.save.bind(provider);
    let failures = 1;
    provider.save = (snapshot: WorkflowExecutionSnapshot) => {
      if (snapshot.nextOperationIndex === 1 && failures-- > 0) throw new Error("store unavailable");
      save(snapshot);
    };
    const workflow = createWorkflow("Invoice")
      .withOperation("render", () => "pdf")
      .withOperation("mail", () => "sent")
      .build();
    const coordinator = createRecoveryCoordinator(instrument({ provider, resolveWorkflow: () => workflow, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 } }, otel.options));
    await coordinator.enqueue(workflow, { instanceId: "invoice-9" });
    expect(await coordinator.resume("invoice-9", workflow.id)).toMatchObject({ status: "resumed" });
    const [first, second] = otel.named("run Invoice");
    expect(first?.attributes).toMatchObject({ "workflowforge.run.attempt": 1 });
    expect(first?.attributes["workflowforge.run.resumed"]).toBeUndefined();
    expect(second?.attributes).toMatchObject({ "workflowforge.run.attempt": 2, "workflowforge.run.resumed": true });
    expect(otel.named("operation render").map((span) => span.attributes["workflowforge.operation.rerun"])).toEqual([undefined, true]);
    expect(await otel.counter("workflowforge.run.resumed")).toBe(1);
  });

  it("reports the first run of an enqueued instance of a workflow past 1,000 operations, which keeps no timeline, as no resume", async () => {
    const otel = createHarness();
    const builder = createWorkflow("Long");
    for (let index = 0; index < 1_001; index++) builder.withOperation(`step-${index}`, () => index);
    const workflow = builder.build();
    const coordinator = createRecoveryCoordinator(instrument({ provider: new MemoryPersistenceProvider(), resolveWorkflow: () => workflow }, otel.options));
    await coordinator.enqueue(workflow, { instanceId: "long-1" });
    expect((await coordinator.resumeAll()).resumed).toHaveLength(1);
    expect(otel.named("run Long")[0]?.attributes["workflowforge.run.resumed"]).toBeUndefined();
    expect(await otel.counter("workflowforge.run.resumed")).toBe(0);
  });

  it("reports as a resume, with its first operation a rerun, an instance a plain leased run claimed and died in at its first operation", async () => {
    const otel = createHarness();
    const fixture = recoveryFixture();
    // As the dead run's claim stored it: its timeline (nothing finished), no attempt counted, its lease run out.
    const { instanceId, workflowKey } = fixture.interrupted({ nextOperationIndex: 0, lastOutput: undefined, timeline: ",,0;,,0;,,0", attempts: undefined });
    const coordinator = createRecoveryCoordinator(instrument({ provider: fixture.provider, resolveWorkflow: () => fixture.workflow }, otel.options));
    expect(await coordinator.resume(instanceId, workflowKey)).toMatchObject({ status: "resumed" });
    expect(otel.named("run Orders")[0]?.attributes).toMatchObject({ "workflowforge.run.attempt": 1, "workflowforge.run.resumed": true });
    expect(otel.named("operation op-0").map((span) => span.attributes["workflowforge.operation.rerun"])).toEqual([true]);
  });

  it("refuses bad coordinator options at instrument(), as createRecoveryCoordinator does, before wrapping them", () => {
    const options = { provider: new MemoryPersistenceProvider(), resolveWorkflow: () => undefined };
    expect(() => instrument({ ...options, createFoundry: 5 as never })).toThrow(new TypeError("createRecoveryCoordinator(options): options.createFoundry must be a function, got 5"));
    expect(() => instrument({ ...options, onOutcome: "x" as never })).toThrow(/options\.onOutcome must be a function/);
    expect(() => instrument({ ...options, smith: {} as never })).toThrow(/options\.smith must be a smith made by createSmith\(\)/);
  });

  it("refuses options instrumented twice, spread into new options included, which would count every dead letter twice", () => {
    const instrumented = instrument({ provider: new MemoryPersistenceProvider(), resolveWorkflow: () => undefined });
    expect(() => instrument(instrumented)).toThrow(new TypeError("instrument(target, options): these coordinator options are already instrumented"));
    expect(() => instrument({ ...instrumented, owner: "worker-2" })).toThrow(/already instrumented/);
  });

  it("reports no span and no duration for an operation a closing coordinator never started", async () => {
    const otel = createHarness();
    let started!: () => void;
    const inA = new Promise<void>((resolve) => (started = resolve));
    let finishA!: () => void;
    const aMayFinish = new Promise<void>((resolve) => (finishA = resolve));
    const ran: string[] = [];
    const workflow = createWorkflow("Close")
      .withOperation("a", async () => {
        ran.push("a");
        started();
        await aMayFinish;
        return 1;
      })
      .withOperation("b", () => void ran.push("b"))
      .build();
    const coordinator = createRecoveryCoordinator(instrument({ provider: new MemoryPersistenceProvider(), resolveWorkflow: () => workflow, owner: "w", leaseTtlMs: 5_000 }, otel.options));
    await coordinator.enqueue(workflow, { instanceId: "c-1" });
    const all = coordinator.resumeAll();
    await inA;
    const closing = coordinator.close();
    finishA();
    await closing;
    await all;
    expect(ran).toEqual(["a"]);
    expect(otel.named("operation a")).toHaveLength(1);
    expect(otel.named("operation b")).toEqual([]);
    // Not even started: a span processor never sees a span that would never end.
    expect(otel.unended()).toEqual([]);
    expect(await otel.histogramCount("workflowforge.operation.duration", { "workflowforge.operation.name": "a" })).toBe(1);
    expect(await otel.histogramCount("workflowforge.operation.duration", { "workflowforge.operation.name": "b" })).toBe(0);
    expect(otel.named("run Close")[0]?.attributes["error.type"]).toBe("ABORTED");
  });

  it("continues the trace of a run close() stopped in its first operation, and marks the operation run again a rerun", async () => {
    const otel = createHarness();
    const provider = new MemoryPersistenceProvider();
    let started!: () => void;
    const inCharge = new Promise<void>((resolve) => (started = resolve));
    let charges = 0;
    const workflow = createWorkflow("Ship")
      .withOperation("charge", (_input: unknown, _foundry, signal: AbortSignal) => {
        if (++charges > 1) return "charged";
        started();
        // Ignores nothing: it stops only when close()'s deadline aborts it, midway.
        return new Promise((_resolve, reject) => signal.addEventListener("abort", () => reject(signal.reason as Error)));
      })
      .withOperation("mail", () => "mailed")
      .build();
    const worker = (owner: string) => createRecoveryCoordinator(instrument({ provider, resolveWorkflow: () => workflow, owner }, otel.options));
    const first = worker("worker-1");
    await first.enqueue(workflow, { instanceId: "ship-1" });
    const pass = first.resumeAll();
    await inCharge;
    await first.close({ timeoutMs: 10 });
    expect((await pass).skipped.map((skipped) => skipped.reason)).toEqual(["closed"]);
    // Given back without the attempt, but with the trace the stopped run started.
    expect((await provider.list())[0]).toMatchObject({ attempts: 0, nextOperationIndex: 0, annotations: { "otel.traceparent": expect.any(String) as string } });

    const second = worker("worker-2");
    expect((await second.resumeAll()).resumed).toHaveLength(1);
    await second.close();
    const runs = otel.named("run Ship");
    expect(runs).toHaveLength(2);
    expect(runs[1]?.spanContext().traceId).toBe(runs[0]?.spanContext().traceId);
    expect(parentOf(runs[1]!)).toBe(runs[0]?.spanContext().spanId);
    expect(runs[1]?.attributes["workflowforge.run.resumed"]).toBe(true);
    expect(otel.named("operation charge").map((span) => span.attributes["workflowforge.operation.rerun"] ?? false)).toEqual([false, true]);
    expect(await otel.counter("workflowforge.run.resumed")).toBe(1);
  });

  it("keeps one trace across retries of an instance whose first attempt timed out in its first operation, before anything of it was stored", async () => {
    const otel = createHarness();
    const provider = new MemoryPersistenceProvider();
    const storedContexts: (string | undefined)[] = [];
    const save = provider.save.bind(provider);
    provider.save = (snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal) => {
      storedContexts.push(snapshot.annotations?.["otel.traceparent"]);
      save(snapshot, signal);
    };
    let calls = 0;
    const workflow = createWorkflow("Sync")
      .withOperation("push", (_input: unknown, _foundry, signal: AbortSignal) => {
        if (++calls > 1) return "pushed";
        // Stops only when the smith's timeout aborts it: the attempt stores no checkpoint.
        return new Promise((_resolve, reject) => signal.addEventListener("abort", () => reject(signal.reason as Error)));
      })
      .withOperation("confirm", (pushed: string) => pushed)
      .build();
    const options = { provider, resolveWorkflow: () => workflow, smith: createSmith({ timeoutMs: 20 }), retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 1 } };
    const coordinator = createRecoveryCoordinator(instrument(options, otel.options));
    await coordinator.enqueue(workflow, { instanceId: "sync-1" });
    expect((await coordinator.resumeAll()).resumed).toHaveLength(1);
    await coordinator.close();

    const [first, retry] = otel.named("run Sync");
    expect(first?.attributes["error.type"]).toBe("WORKFLOW_TIMEOUT");
    expect(retry?.attributes["workflowforge.run.attempt"]).toBe(2);
    expect(retry?.spanContext().traceId).toBe(first?.spanContext().traceId);
    expect(parentOf(retry!)).toBe(first?.spanContext().spanId);
    // The retry stored the first run's context (with its claim), for every later run of the instance wherever it runs.
    const saved = storedContexts.filter((context) => context !== undefined);
    expect(saved.length).toBeGreaterThan(0);
    expect(saved.every((context) => context.includes(`-${first?.spanContext().spanId}-`))).toBe(true);
  });
});
