import { describe, expect, it } from "vitest";
import { createFoundry, createSmith } from "../../src/index.js";
import { instrument } from "../../src/otel/index.js";
import { MemoryPersistenceProvider, createRecoveryCoordinator, usePersistence, type WorkflowExecutionSnapshot } from "../../src/persistence/index.js";
import { recoveryFixture } from "../persistence/recovery/fixtures.js";
import { createHarness } from "./harness.js";
import { bookTrip, compensationStoppedOnce } from "./trip.js";

const claimEvents = (span: { events: { name: string }[] } | undefined) => span?.events.filter((event) => event.name === "workflowforge.claim.acquired").length;


describe("workflowforge.claim.acquired", () => {
  it("is not reported for a run without a lease that resumes a compensation", async () => {
    const otel = createHarness();
    // The first run stops half-way through its compensation; the next one finishes it.
    const provider = compensationStoppedOnce();
    const smith = instrument(createSmith(), otel.options);
    const attempt = () => smith.forge(bookTrip(), usePersistence(instrument(createFoundry("Trip"), otel.options), provider, { instanceId: "trip-1" }));
    await expect(attempt()).rejects.toMatchObject({ code: "PERSISTENCE" });
    await expect(attempt()).rejects.toMatchObject({ code: "WORKFLOW_COMPENSATED" });
    const runs = otel.named("run BookTrip");
    expect(runs).toHaveLength(2);
    expect(claimEvents(runs[1])).toBe(0);
  });

  it("is not reported for a run without a lease that finds everything done and keeps the record", async () => {
    const otel = createHarness();
    const provider = new MemoryPersistenceProvider();
    const make = () => usePersistence(instrument(createFoundry("Done"), otel.options).withOperation("a", () => 1), provider, { instanceId: "d-1", onComplete: "keep" });
    await make().forge();
    const stored = provider.tryLoad("d-1", "Done") as WorkflowExecutionSnapshot;
    // A record that says every operation is done but is still running: a crash before the last save.
    provider.save({ ...stored, status: "running", revision: stored.revision + 1 });
    await make().forge();
    const runs = otel.named("run Done");
    expect(runs).toHaveLength(2);
    expect(claimEvents(runs[1])).toBe(0);
  });

  it("is reported once for a leased run that claims the instance", async () => {
    const otel = createHarness();
    const provider = new MemoryPersistenceProvider();
    const foundry = usePersistence(instrument(createFoundry("Leased"), otel.options).withOperation("a", () => 1).withOperation("b", () => 2), provider, { instanceId: "l-1", lease: { ttlMs: 5_000 } });
    await foundry.forge();
    const [run] = otel.named("run Leased");
    expect(claimEvents(run)).toBe(1);
  });

  it("is reported on a run that adopts the claim the coordinator made (resumeAll)", async () => {
    const otel = createHarness();
    const fixture = recoveryFixture();
    fixture.interrupted();
    const coordinator = createRecoveryCoordinator(instrument({ provider: fixture.provider, resolveWorkflow: () => fixture.workflow, owner: "worker-1", leaseTtlMs: 5_000 }, otel.options));
    const report = await coordinator.resumeAll();
    await coordinator.close();
    expect(report.resumed).toHaveLength(1);
    const [run] = otel.named("run Orders");
    expect(run?.attributes["workflowforge.run.attempt"]).toBe(1);
    const claims = run?.events.filter((event) => event.name === "workflowforge.claim.acquired");
    expect(claims).toHaveLength(1);
    // The revision the coordinator's claim wrote: the interrupted record's (1) plus one.
    expect(claims?.[0]?.attributes?.["workflowforge.snapshot.revision"]).toBe(2);
  });
});
