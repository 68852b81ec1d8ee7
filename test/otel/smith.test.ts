import { SpanStatusCode } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { whenIdle } from "../../src/foundry.js";
import { createFoundry, createSmith, createWorkflow } from "../../src/index.js";
import { instrument } from "../../src/otel/index.js";
import { MemoryPersistenceProvider, usePersistence } from "../../src/persistence/index.js";
import { createHarness, parentOf } from "./harness.js";
import { bookTrip, compensationStoppedOnce } from "./trip.js";

const spanId = (span: { spanContext(): { spanId: string } } | undefined): string | undefined => span?.spanContext().spanId;


describe("instrument(smith)", () => {
  it("shows a compensated run's compensation, with a span per restore in the order they ran", async () => {
    const otel = createHarness();
    const smith = instrument(createSmith(), otel.options);
    await expect(smith.forge(bookTrip(), createFoundry("Trip"))).rejects.toThrow(/no cars left/);

    const [run] = otel.named("run BookTrip");
    const [compensation] = otel.named("compensate BookTrip");
    const restores = otel.spans().filter((span) => span.name.startsWith("restore "));
    expect(parentOf(compensation!)).toBe(spanId(run));
    expect(compensation?.attributes["workflowforge.compensation.pending"]).toBe(2);
    expect(restores.map((span) => span.name)).toEqual(["restore hotel", "restore flight"]);
    expect(restores.map(parentOf)).toEqual([spanId(compensation), spanId(compensation)]);
    expect(restores.every((span) => span.status.code !== SpanStatusCode.ERROR)).toBe(true);
    // The run's span ends last, after its compensation, with the run's error.
    expect(otel.spans().at(-1)?.name).toBe("run BookTrip");
    expect(run?.attributes["error.type"]).toBe("OPERATION_FAILED");
    expect(run?.attributes["workflowforge.run.compensates"]).toBe(true);
    expect(run?.attributes["workflowforge.workflow.version"]).toBe("1");
  });

  it("records a failed restore on its span and counts it on the compensation's", async () => {
    const otel = createHarness();
    const smith = instrument(createSmith(), otel.options);
    await expect(smith.forge(bookTrip("hotel"), createFoundry("Trip"))).rejects.toThrow(/no cars left/);

    const [hotel] = otel.named("restore hotel");
    const [flight] = otel.named("restore flight");
    const [compensation] = otel.named("compensate BookTrip");
    expect(hotel?.status).toEqual({ code: SpanStatusCode.ERROR, message: "cannot undo hotel" });
    expect(hotel?.attributes["error.type"]).toBe("Error");
    expect(flight?.status.code).toBe(SpanStatusCode.UNSET);
    expect(compensation?.attributes["workflowforge.compensation.failures"]).toBe(1);
  });

  it("records a restore that stops a fail-fast compensation, and carries no failure into a later run", async () => {
    const otel = createHarness();
    const failFast = instrument(createSmith({ failFastCompensation: true }), otel.options);
    await expect(failFast.forge(bookTrip("hotel"), createFoundry("Trip"))).rejects.toThrow(/no cars left/);
    const [hotel] = otel.named("restore hotel");
    expect(hotel?.status).toEqual({ code: SpanStatusCode.ERROR, message: "cannot undo hotel" });
    expect(otel.named("restore flight")).toEqual([]);
    expect(otel.named("compensate BookTrip")[0]?.attributes["workflowforge.compensation.failures"]).toBe(1);

    // A failed restore on an untraced smith, then a traced run whose restores all succeed.
    await expect(createSmith().forge(bookTrip("hotel"), createFoundry("Trip"))).rejects.toThrow(/no cars left/);
    await expect(instrument(createSmith(), otel.options).forge(bookTrip(), createFoundry("Trip"))).rejects.toThrow(/no cars left/);
    const later = otel.named("restore hotel").at(-1);
    expect(later?.status.code).toBe(SpanStatusCode.UNSET);
  });

  it("puts each failed restore on its own instance's span when two instances of a workflow compensate at once", async () => {
    const otel = createHarness();
    const smith = instrument(createSmith(), otel.options);
    const provider = new MemoryPersistenceProvider();
    // Persistence's checkpoint between restores lets the two compensations interleave.
    const run = (instanceId: string, failing?: string) => smith.forge(bookTrip(failing), usePersistence(createFoundry("Trip"), provider, { instanceId }));
    await Promise.all([expect(run("a", "hotel")).rejects.toThrow(), expect(run("b")).rejects.toThrow()]);
    const byInstance = (instanceId: string) => {
      const [runSpan] = otel.named("run BookTrip").filter((span) => span.attributes["workflowforge.instance.id"] === instanceId);
      const compensation = otel.named("compensate BookTrip").find((span) => parentOf(span) === spanId(runSpan));
      return otel.named("restore hotel").find((span) => parentOf(span) === spanId(compensation))?.status.code;
    };
    expect([byInstance("a"), byInstance("b")]).toEqual([SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
  });

  it("instruments each foundry it runs once, and traces every run on it", async () => {
    const otel = createHarness();
    const smith = instrument(createSmith(), otel.options);
    const workflow = createWorkflow("Ping").withOperation("ping", () => "pong").build();
    const foundry = createFoundry("Pinger");
    await smith.forge(workflow, foundry);
    await smith.forge(workflow, foundry);
    expect(foundry.middleware).toHaveLength(1);
    expect(otel.named("run Ping")).toHaveLength(2);
    expect(otel.named("operation ping")).toHaveLength(2);
    expect(new Set(otel.named("run Ping").map((span) => span.spanContext().traceId)).size).toBe(2);
  });
});

describe("instrument(smith) with persistence", () => {
  it("shows a compensation an interrupted run left unfinished, finished by the next run in the same trace", async () => {
    const otel = createHarness();
    // The first run stops half-way through its compensation; the next one finishes it.
    const provider = compensationStoppedOnce();
    const smith = instrument(createSmith(), otel.options);
    // Instrumented before persistence, as recommended: the trace hears of each restore before persistence records it.
    const attempt = () => smith.forge(bookTrip(), usePersistence(instrument(createFoundry("Trip"), otel.options), provider, { instanceId: "trip-3" }));
    await expect(attempt()).rejects.toMatchObject({ code: "PERSISTENCE" });
    await expect(attempt()).rejects.toMatchObject({ code: "WORKFLOW_COMPENSATED" });

    const [first, second] = otel.named("run BookTrip");
    expect(parentOf(second!)).toBe(spanId(first));
    expect(second?.attributes["error.type"]).toBe("WORKFLOW_COMPENSATED");
    const [, resumed] = otel.named("compensate BookTrip");
    expect(parentOf(resumed!)).toBe(spanId(second));
    expect(resumed?.attributes["workflowforge.compensation.pending"]).toBe(2);
    // The first run restored the hotel but could not record it: the second restores it again (at
    // least once), then the flight.
    const [interrupted] = otel.named("compensate BookTrip");
    expect(otel.named("restore hotel").map(parentOf)).toEqual([spanId(interrupted), spanId(resumed)]);
    expect(otel.named("restore flight").map(parentOf)).toEqual([spanId(resumed)]);
  });

  it("leaves a run it did not start to end with its own outcome when its own run is refused as concurrent", async () => {
    const otel = createHarness();
    let finishBare!: () => void;
    const bareMayFinish = new Promise<void>((resolve) => (finishBare = resolve));
    const foundry = instrument(createFoundry("Shared"), otel.options).withOperation("slow", async () => {
      await bareMayFinish;
      return "bare-done";
    });
    const smith = instrument(createSmith(), otel.options);
    // A workflow middleware inside the instrumentation that lets the bare run start first.
    let reachSmithRun!: () => void;
    const smithRunMayStart = new Promise<void>((resolve) => (reachSmithRun = resolve));
    smith.use(async (_context, next) => {
      await smithRunMayStart;
      return next();
    });
    const workflow = createWorkflow("Other").withOperation("x", () => "x").build();
    const viaSmith = smith.forge(workflow, foundry).catch((error: unknown) => error);
    const bare = foundry.forge();
    reachSmithRun();
    expect(await viaSmith).toMatchObject({ code: "CONCURRENT_RUN" });
    finishBare();
    expect(await bare).toBe("bare-done");
    const [run] = otel.named("run Shared");
    expect(otel.named("run Other")).toEqual([]);
    expect(run?.status.code).toBe(SpanStatusCode.UNSET);
    expect(run?.attributes["error.type"]).toBeUndefined();
    expect(await otel.counter("workflowforge.run.completed")).toBe(1);
    expect(await otel.counter("workflowforge.run.failed")).toBe(0);
  });
});

describe("instrument(smith) with timeoutMs", () => {
  // An operation that ignores its signal: it settles when the test says so, or never.
  const ignoringSignal = () => {
    let settle!: (value: string) => void;
    const settled = new Promise<string>((resolve) => (settle = resolve));
    const workflow = createWorkflow("Hang").withOperation("call", () => settled).build();
    return { workflow, settle };
  };

  it("ends the run's span and the operation's at the timeout, with WORKFLOW_TIMEOUT, when the operation never settles", async () => {
    const otel = createHarness();
    const smith = instrument(createSmith({ timeoutMs: 20 }), otel.options);
    const { workflow } = ignoringSignal();
    const foundry = usePersistence(instrument(createFoundry("Hang"), otel.options), new MemoryPersistenceProvider(), { instanceId: "hang-1" });
    await expect(smith.forge(workflow, foundry)).rejects.toMatchObject({ code: "WORKFLOW_TIMEOUT" });

    // Ended as the smith rejected, though the run is still going (and always will be).
    expect(foundry.isRunning).toBe(true);
    const [run] = otel.named("run Hang");
    const [operation] = otel.named("operation call");
    expect(run?.status.code).toBe(SpanStatusCode.ERROR);
    expect(run?.attributes["error.type"]).toBe("WORKFLOW_TIMEOUT");
    expect(parentOf(operation!)).toBe(spanId(run));
    expect(operation?.attributes["error.type"]).toBe("WORKFLOW_TIMEOUT");
    expect(otel.unended()).toEqual([]);
    expect(await otel.counter("workflowforge.run.failed", { "error.type": "WORKFLOW_TIMEOUT" })).toBe(1);
    expect(await otel.histogramCount("workflowforge.operation.duration", { "error.type": "WORKFLOW_TIMEOUT" })).toBe(1);
  });

  it("changes nothing when the run the timeout gave up on settles later: no second count, no second span", async () => {
    const otel = createHarness();
    const smith = instrument(createSmith({ timeoutMs: 20 }), otel.options);
    const { workflow, settle } = ignoringSignal();
    const foundry = createFoundry("Hang");
    await expect(smith.forge(workflow, foundry)).rejects.toMatchObject({ code: "WORKFLOW_TIMEOUT" });
    expect(otel.named("run Hang").map((span) => span.attributes["error.type"])).toEqual(["WORKFLOW_TIMEOUT"]);

    // The operation completes after all: the run completes its last operation, which the smith no longer reports.
    settle("late");
    await foundry[whenIdle]();
    expect(otel.named("run Hang")).toHaveLength(1);
    expect(otel.named("operation call")).toHaveLength(1);
    expect(await otel.counter("workflowforge.run.completed")).toBe(0);
    expect(await otel.counter("workflowforge.run.failed")).toBe(1);
    expect(await otel.histogramCount("workflowforge.operation.duration")).toBe(1);
  });

  it("ends at the timeout a run whose caller's signal aborted first, which the operation ignored too", async () => {
    const otel = createHarness();
    const smith = instrument(createSmith({ timeoutMs: 20 }), otel.options);
    const caller = new AbortController();
    const workflow = createWorkflow("Hang")
      .withOperation("call", () => {
        caller.abort(new Error("the caller gave up"));
        return new Promise<never>(() => undefined);
      })
      .build();
    await expect(smith.forge(workflow, createFoundry("Hang"), { signal: caller.signal })).rejects.toMatchObject({ code: "WORKFLOW_TIMEOUT" });
    expect(otel.named("run Hang").map((span) => span.attributes["error.type"])).toEqual(["WORKFLOW_TIMEOUT"]);
    expect(otel.unended()).toEqual([]);
  });
});
