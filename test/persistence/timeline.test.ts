import { describe, expect, it } from "vitest";
import { MemoryPersistenceProvider, SnapshotCorruptedError, readTimeline, usePersistence, type WorkflowExecutionSnapshot } from "../../src/persistence/index.js";
import { validateSnapshot } from "../../src/persistence/snapshot.js";
import { RecordingProvider } from "../support/recording-provider.js";
import { countedFoundry, opNames } from "../support/counted-workflow.js";
import { rejectionOf } from "../support/promises.js";
import { snapshotFor, uniqueKeys } from "../support/run-snapshots.js";

const keep = { onComplete: "keep" } as const;
const executionsOf = (snapshot: WorkflowExecutionSnapshot | undefined) => (snapshot === undefined ? undefined : readTimeline(snapshot)?.map((step) => step.executions));

describe("the snapshot's timeline", () => {
  it("records, per operation, when it started and finished and one execution, with no save beyond the checkpoints", async () => {
    const provider = new RecordingProvider();
    const { foundry } = countedFoundry(3);
    usePersistence(foundry, provider, { ...uniqueKeys("timeline"), ...keep });
    await foundry.forge();
    expect(provider.count("save")).toBe(3);
    const stored = provider.saves[2] as WorkflowExecutionSnapshot;
    const steps = readTimeline(stored) ?? [];
    expect(steps.map((step) => step.executions)).toEqual([1, 1, 1]);
    const created = Date.parse(stored.createdAt);
    steps.forEach((step, index) => {
      expect(step.startedAt!.getTime()).toBeGreaterThanOrEqual(created);
      expect(step.finishedAt!.getTime()).toBeGreaterThanOrEqual(step.startedAt!.getTime());
      if (index > 0) expect(step.startedAt!.getTime()).toBeGreaterThanOrEqual(steps[index - 1]!.finishedAt!.getTime());
    });
    // The checkpoint after operation 0 already counts operation 1 (it starts next), not operation 2.
    expect(executionsOf(provider.saves[0])).toEqual([1, 1, 0]);
    expect(provider.saves[0]?.timeline).toMatch(/^\d+,\d+,1;\d+,,1;,,0$/);
  });

  it("counts an operation re-executed after a crash twice, keeping when it first started", async () => {
    const keys = uniqueKeys("timeline-crash");
    const first = new RecordingProvider();
    const { foundry } = countedFoundry(3);
    usePersistence(foundry, first, { ...keys, ...keep });
    await foundry.forge();
    // The process died after the checkpoint of operation 0, while operation 1 ran: that checkpoint is what is stored.
    const atCrash = first.saves[0] as WorkflowExecutionSnapshot;
    const provider = new RecordingProvider(new MemoryPersistenceProvider());
    await provider.save(atCrash);
    const { foundry: resumed, log } = countedFoundry(3);
    usePersistence(resumed, provider, { ...keys, ...keep });
    await resumed.forge();
    expect(log.runs).toEqual([undefined, 1, 1]);
    const stored = provider.saves.at(-1) as WorkflowExecutionSnapshot;
    expect(executionsOf(stored)).toEqual([1, 2, 1]);
    expect(readTimeline(stored)?.[1]?.startedAt).toEqual(readTimeline(atCrash)?.[1]?.startedAt);
  });

  it("is stored with a failure record, and the retried operation counts twice", async () => {
    const keys = uniqueKeys("timeline-failure");
    const provider = new RecordingProvider();
    const failing = countedFoundry(2, { onForge: (index, attempt) => { if (index === 1 && attempt === 1) throw new Error("card declined"); } });
    usePersistence(failing.foundry, provider, { ...keys, ...keep });
    await rejectionOf(failing.foundry.forge());
    const failed = provider.inner.tryLoad(keys.instanceId, keys.workflowKey) as WorkflowExecutionSnapshot;
    expect(failed.status).toBe("failed");
    expect(executionsOf(failed)).toEqual([1, 1]);
    expect(readTimeline(failed)?.[1]?.finishedAt).toBeInstanceOf(Date);
    const retry = countedFoundry(2, { log: failing.log, onForge: () => undefined });
    usePersistence(retry.foundry, provider, { ...keys, ...keep });
    await retry.foundry.forge();
    const done = provider.inner.tryLoad(keys.instanceId, keys.workflowKey) as WorkflowExecutionSnapshot;
    expect(executionsOf(done)).toEqual([1, 2]);
  });

  it("is left out for definitions of more than 1,000 operations", async () => {
    const provider = new RecordingProvider();
    const { foundry } = countedFoundry(1001);
    usePersistence(foundry, provider, uniqueKeys("timeline-long"));
    await foundry.forge();
    expect(provider.saves.every((snapshot) => snapshot.timeline === undefined)).toBe(true);
  });

  it("starts afresh when the stored one does not fit the definition (a migrated snapshot)", async () => {
    const keys = uniqueKeys("timeline-migrated");
    const provider = new RecordingProvider();
    const timeline = "0,3,1;5,,1";
    await provider.save(snapshotFor(keys, opNames(3), { nextOperationIndex: 1, timeline }));
    const { foundry } = countedFoundry(3);
    usePersistence(foundry, provider, { ...keys, ...keep });
    await foundry.forge();
    // Operation 0 completed before and is skipped: this timeline only knows what ran since.
    expect(executionsOf(provider.saves.at(-1))).toEqual([0, 1, 1]);
  });
});

describe("readTimeline(snapshot)", () => {
  it("gives each operation's times as dates and its executions, and undefined for what never happened", () => {
    const snapshot = { createdAt: "2026-12-05T08:00:00.000Z", timeline: "0,1200,1;1500,,2;,,0" };
    expect(readTimeline(snapshot)).toEqual([
      { index: 0, startedAt: new Date("2026-12-05T08:00:00.000Z"), finishedAt: new Date("2026-12-05T08:00:01.200Z"), executions: 1 },
      { index: 1, startedAt: new Date("2026-12-05T08:00:01.500Z"), finishedAt: undefined, executions: 2 },
      { index: 2, startedAt: undefined, finishedAt: undefined, executions: 0 },
    ]);
    expect(readTimeline({ createdAt: snapshot.createdAt })).toBeUndefined();
  });
});

describe("validateSnapshot with a timeline and annotations", () => {
  const keys = uniqueKeys("shape");
  const valid = snapshotFor(keys, opNames(2), { timeline: "0,2,1;,,0", annotations: { "otel.traceparent": "00-abc-def-01" } });
  const snapshotKeys = { foundryExecutionId: keys.instanceId, workflowId: keys.workflowKey };

  it("accepts both optional fields", () => {
    expect(validateSnapshot(valid, snapshotKeys)).toBe(valid);
  });

  it.for([
    ["an entry without its count", { timeline: "0,2,1;," }, /timeline is not/],
    ["a negative count", { timeline: "0,2,-1" }, /timeline is not/],
    ["a fractional time", { timeline: "0.5,2,1" }, /timeline is not/],
    ["a timeline that is not text", { timeline: [0, 2, 1] }, /timeline is not/],
    ["an annotation that is not a string", { annotations: { count: 3 } }, /annotations is not/],
    ["33 annotations", { annotations: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"])) }, /annotations is not/],
  ] as const)("refuses %s", ([, change, message]) => {
    expect(() => validateSnapshot({ ...valid, ...change }, snapshotKeys)).toThrow(SnapshotCorruptedError);
    expect(() => validateSnapshot({ ...valid, ...change }, snapshotKeys)).toThrow(message);
  });
});
