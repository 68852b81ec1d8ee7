import { SpanStatusCode } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { createFoundry, createSmith, createWorkflow, isSuspended, sleep } from "../../src/index.js";
import { instrument } from "../../src/otel/index.js";
import { MemoryPersistenceProvider, usePersistence } from "../../src/persistence/index.js";
import { createHarness } from "./harness.js";

// A run that stops at a durable wait did not fail: dashboards counting failures must not count
// every trial waiting out its thirty days.
const day = 86_400_000;
const trial = createWorkflow("Trial")
  .withOperation("start", () => 1)
  .addOperation(sleep("wait", 30 * day))
  .withOperation("bill", () => 2)
  .build();

describe("a run that suspends at a durable wait", () => {
  it("ends its spans without an error, with a suspended event, and is counted as suspended, not failed", async () => {
    const otel = createHarness();
    const smith = instrument(createSmith(), otel.options);
    const foundry = usePersistence(createFoundry("Trials"), new MemoryPersistenceProvider(), { instanceId: "t-1" });
    expect(isSuspended(await smith.forge(trial, foundry).catch((error: unknown) => error))).toBe(true);

    const [run] = otel.named("run Trial");
    const [wait] = otel.named("operation wait");
    expect([run?.status.code, wait?.status.code]).toEqual([SpanStatusCode.UNSET, SpanStatusCode.UNSET]);
    expect(run?.attributes["error.type"]).toBeUndefined();
    const suspended = run?.events.find((event) => event.name === "workflowforge.run.suspended");
    expect(suspended?.attributes?.["workflowforge.wait.wake_at"]).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT/));
    const where = { "workflowforge.workflow.name": "Trial" };
    expect(await otel.counter("workflowforge.run.failed", where)).toBe(0);
    expect(await otel.counter("workflowforge.run.suspended", where)).toBe(1);
    expect(await otel.histogramCount("workflowforge.operation.duration", { ...where, "workflowforge.operation.name": "wait", "error.type": "WORKFLOW_SUSPENDED" })).toBe(0);
  });
});
