import { describe, expect, it } from "vitest";
import { createFoundry, createSmith, createWorkflow } from "../../src/index.js";
import { instrument } from "../../src/otel/index.js";
import { MemoryPersistenceProvider, usePersistence } from "../../src/persistence/index.js";
import { createHarness } from "./harness.js";
import { bookTrip, compensationStoppedOnce } from "./trip.js";

const workflowName = { "workflowforge.workflow.name": "Count" };

function counting(failAt?: number) {
  const builder = createWorkflow("Count");
  for (let i = 0; i < 3; i++) {
    builder.withOperation(`step-${i}`, () => {
      if (i === failAt) throw new Error("boom");
      return i;
    });
  }
  return builder.build();
}

describe("metrics", () => {
  it("counts runs started, completed, failed and resumed, and measures each executed operation and checkpoint", async () => {
    const otel = createHarness();
    const provider = new MemoryPersistenceProvider();
    const foundry = (failAt?: number, persisted = true) => {
      const created = instrument(createFoundry("Count"), otel.options);
      for (const operation of counting(failAt).operations) created.addOperation(operation);
      return persisted ? usePersistence(created, provider, { instanceId: "count-1", workflowKey: "Count-v1" }) : created;
    };

    await foundry(undefined, false).forge();
    await expect(foundry(1).forge()).rejects.toThrow(/boom/);
    await foundry().forge();

    expect(await otel.counter("workflowforge.run.started", workflowName)).toBe(3);
    expect(await otel.counter("workflowforge.run.completed", workflowName)).toBe(2);
    expect(await otel.counter("workflowforge.run.failed", { ...workflowName, "error.type": "OPERATION_FAILED" })).toBe(1);
    expect(await otel.counter("workflowforge.run.resumed", workflowName)).toBe(1);
    // 3 + 2 (the second failed at step 1) + 2 (the third resumed at step 1).
    expect(await otel.histogramCount("workflowforge.operation.duration", workflowName)).toBe(7);
    expect(await otel.histogramCount("workflowforge.operation.duration", { ...workflowName, "workflowforge.operation.name": "step-1", "error.type": "Error" })).toBe(1);
    // A checkpoint after each operation completed under persistence: step-0 of the second run, steps 1 and 2 of the third.
    expect(await otel.histogramCount("workflowforge.checkpoint.duration", workflowName)).toBe(3);
  });

  /** Worker A's leased run of `instanceId`, held in its only operation once it has claimed the instance. */
  async function heldByWorkerA(otel: ReturnType<typeof createHarness>, provider: MemoryPersistenceProvider, instanceId: string) {
    const options = { instanceId, workflowKey: "Count-v1", lease: { ttlMs: 60_000 } };
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = usePersistence(instrument(createFoundry("Count"), otel.options), provider, { ...options, owner: "worker-a" }).withOperation("wait", () => held);
    const claimed = new Promise((resolve) => first.on("snapshotSaved", resolve));
    const running = first.forge();
    await claimed;
    return { options, release, running };
  }

  it("counts a run that lost its claim to another worker", async () => {
    const otel = createHarness();
    const provider = new MemoryPersistenceProvider();
    const { release, running } = await heldByWorkerA(otel, provider, "claimed-1");
    // Another worker takes the instance over once this run has claimed it.
    const stored = provider.tryLoad("claimed-1", "Count-v1");
    provider.save({ ...stored!, owner: "worker-b", revision: stored!.revision + 1 });
    release();
    await expect(running).rejects.toMatchObject({ code: "SNAPSHOT_CONFLICT" });
    expect(await otel.counter("workflowforge.claim.lost")).toBe(1);
  });

  it("counts no lost claim for a duplicate start refused while another run holds the instance", async () => {
    const otel = createHarness();
    const provider = new MemoryPersistenceProvider();
    const { options, release, running } = await heldByWorkerA(otel, provider, "claimed-2");
    // The same start delivered twice (a webhook retried): refused before it claimed anything.
    const duplicate = usePersistence(instrument(createFoundry("Count"), otel.options), provider, { ...options, owner: "worker-b" }).withOperation("wait", () => undefined);
    await expect(duplicate.forge()).rejects.toMatchObject({ code: "SNAPSHOT_CONFLICT" });
    release();
    await running;
    expect(await otel.counter("workflowforge.run.failed", { "error.type": "SNAPSHOT_CONFLICT" })).toBe(1);
    expect(await otel.counter("workflowforge.claim.lost")).toBe(0);
    expect(otel.spans().flatMap((span) => span.events.map((event) => event.name))).not.toContain("workflowforge.claim.lost");
  });

  it("counts workflowforge.run.resumed for a run that continues a stored instance at its first operation", async () => {
    const otel = createHarness();
    const provider = new MemoryPersistenceProvider();
    let fail = true;
    const make = () =>
      usePersistence(
        instrument(createFoundry("Pay"), { meterProvider: otel.meterProvider })
          .withOperation("charge", () => {
            if (fail) throw new Error("down");
            return 1;
          })
          .withOperation("mail", () => 2),
        provider,
        { instanceId: "pay-1" },
      );
    await expect(make().forge()).rejects.toThrow(/down/);
    expect(provider.tryLoad("pay-1", "Pay")).toMatchObject({ status: "failed", nextOperationIndex: 0 });
    fail = false;
    await make().forge();
    expect(await otel.counter("workflowforge.run.started")).toBe(2);
    expect(await otel.counter("workflowforge.run.resumed")).toBe(1);
  });

  it("counts workflowforge.run.resumed for a run that finishes a stored compensation", async () => {
    const otel = createHarness();
    // The first run stops half-way through its compensation; the next one finishes it.
    const provider = compensationStoppedOnce();
    const smith = instrument(createSmith(), { meterProvider: otel.meterProvider });
    const attempt = () => smith.forge(bookTrip(), usePersistence(instrument(createFoundry("Trip"), { meterProvider: otel.meterProvider }), provider, { instanceId: "trip-2" }));
    await expect(attempt()).rejects.toMatchObject({ code: "PERSISTENCE" });
    await expect(attempt()).rejects.toMatchObject({ code: "WORKFLOW_COMPENSATED" });
    expect(await otel.counter("workflowforge.run.resumed")).toBe(1);
  });
});
