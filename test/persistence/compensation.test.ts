import { describe, it, expect } from "vitest";
import { conditional, createFoundry, createSmith, createWorkflow, delegate } from "../../src/index.js";
import {
  PersistenceError,
  SnapshotConflictError,
  WorkflowCompensatedError,
  usePersistence,
  type SnapshotStatus,
} from "../../src/persistence/index.js";
import { countedWorkflow, opNames, operationLog, runCounts, type CountedOptions, type OperationLog } from "../support/counted-workflow.js";
import { rejectionOf } from "../support/promises.js";
import { RecordingProvider } from "../support/recording-provider.js";
import { snapshotFor, uniqueKeys, type Keys } from "../support/run-snapshots.js";

const everyRestore = () => true;
const failAt = (failing: number) => (index: number) => {
  if (index === failing) throw new Error(`operation ${index} failed`);
};

/** Runs a counted workflow under a smith with persistence on a fresh foundry. */
function runCounted(provider: RecordingProvider, keys: Keys, count: number, options: CountedOptions & { readonly signal?: AbortSignal }) {
  const { workflow } = countedWorkflow(count, { restore: everyRestore, ...options });
  const foundry = usePersistence(createFoundry("Host"), provider, keys);
  return createSmith().forge(workflow, foundry, options.signal === undefined ? {} : { signal: options.signal });
}

/** Logs every provider call into `log.events`, next to the forges and restores. */
function timelineProvider(log: OperationLog, failSave?: (status: SnapshotStatus, next: number) => boolean) {
  return new RecordingProvider(undefined, {
    save: (snapshot) => {
      log.events.push(`save:${snapshot.status}:${snapshot.nextOperationIndex}`);
      if (failSave?.(snapshot.status, snapshot.nextOperationIndex) === true) throw new Error("process died");
    },
    delete: () => void log.events.push("delete"),
  });
}

describe("compensation under persistence", () => {
  it("saves status compensating with the number of operations to restore before the first restore", async () => {
    const log = operationLog();
    const provider = timelineProvider(log);
    await expect(runCounted(provider, uniqueKeys(), 3, { log, onForge: failAt(2) })).rejects.toThrow("operation 2 failed");
    const firstCompensating = log.events.indexOf("save:compensating:2");
    expect(firstCompensating).toBeGreaterThan(log.events.indexOf("forge:2"));
    expect(log.events.findIndex((event) => event.startsWith("restore:"))).toBeGreaterThan(firstCompensating);
  });

  it("saves progress after each restore and deletes the snapshot when the last restore finishes", async () => {
    const log = operationLog();
    const provider = timelineProvider(log);
    const keys = uniqueKeys();
    await expect(runCounted(provider, keys, 3, { log, onForge: failAt(2) })).rejects.toThrow("operation 2 failed");
    const compensation = log.events.slice(log.events.indexOf("save:compensating:2"));
    expect(compensation).toEqual(["save:compensating:2", "restore:1", "save:compensating:1", "restore:0", "save:compensating:0", "delete"]);
    expect(log.restores).toEqual([["out-0"], ["out-1"]]);
    expect(provider.stored(keys)).toBeUndefined();
  });

  it("reports the compensation's progress through snapshotSaved events", async () => {
    const provider = new RecordingProvider();
    const { workflow } = countedWorkflow(3, { restore: everyRestore, onForge: failAt(2) });
    const foundry = usePersistence(createFoundry("Host"), provider, uniqueKeys());
    const saved: string[] = [];
    foundry.on("snapshotSaved", (event) => saved.push(`${event.status}:${event.nextOperationIndex}`));
    await expect(createSmith().forge(workflow, foundry)).rejects.toThrow("operation 2 failed");
    expect(saved.filter((event) => event.startsWith("compensating"))).toEqual(["compensating:2", "compensating:1", "compensating:0"]);
  });

  it("stores the failure that caused the compensation in the compensating snapshot", async () => {
    const provider = new RecordingProvider();
    await expect(runCounted(provider, uniqueKeys(), 3, { onForge: failAt(2) })).rejects.toThrow();
    const compensating = provider.saves.filter((snapshot) => snapshot.status === "compensating");
    expect(compensating.length).toBeGreaterThan(0);
    for (const snapshot of compensating) {
      expect(snapshot.error).toEqual({ name: "Error", message: "operation 2 failed", operationIndex: 2, operationName: "op-2", stack: expect.stringMatching(/^Error: operation 2 failed\n/) });
    }
  });
});

describe("resuming a compensation", () => {
  const storedError = { name: "Error", message: "payment declined", operationIndex: 3, operationName: "op-3" };

  it("finishes the remaining restores in reverse order with the stored outputs instead of running forward", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const outputs = { 0: { reservation: "r-1" }, 1: "stored-1", 2: "stored-2" };
    provider.seed(snapshotFor(keys, opNames(4), { status: "compensating", nextOperationIndex: 2, outputs, error: storedError, revision: 6 }));
    const log = operationLog();
    const { workflow } = countedWorkflow(4, { log, restore: everyRestore });
    const foundry = usePersistence(createFoundry("Host"), provider, keys);
    const started: number[] = [];
    foundry.on("operationStarted", (event) => started.push(event.index));
    const error = await rejectionOf(createSmith().forge(workflow, foundry));
    expect(log.events).toEqual(["restore:1", "restore:0"]);
    expect(log.restores).toEqual([[{ reservation: "r-1" }], ["stored-1"]]);
    expect(runCounts(log, 4)).toEqual([0, 0, 0, 0]);
    expect(started).toEqual([]);
    expect(error).toBeInstanceOf(WorkflowCompensatedError);
    expect((error as WorkflowCompensatedError).storedError).toEqual(storedError);
    expect((error as WorkflowCompensatedError).code).toBe("WORKFLOW_COMPENSATED");
    expect(provider.stored(keys)).toBeUndefined();
  });

  it("resumes a compensation interrupted by a crash and never skips undone work", async () => {
    const keys = uniqueKeys();
    const log = operationLog();
    // The third compensating save (after restore 1) never lands: the process died there.
    const provider = timelineProvider(log, (status, next) => status === "compensating" && next === 1);
    const first = await rejectionOf(runCounted(provider, keys, 4, { log, restore: (index) => index < 3, onForge: failAt(3) }));
    expect(first).toBeInstanceOf(PersistenceError);
    expect(log.events.filter((event) => event.startsWith("restore:"))).toEqual(["restore:2", "restore:1"]);
    expect(provider.stored(keys)).toMatchObject({ status: "compensating", nextOperationIndex: 2 });

    provider.intercept = {};
    log.events.length = 0;
    const second = await rejectionOf(runCounted(provider, keys, 4, { log, restore: (index) => index < 3 }));
    expect(log.events).toEqual(["restore:1", "restore:0"]);
    expect(log.restores).toEqual([["out-0"], ["out-1", "out-1"], ["out-2"]]);
    expect(runCounts(log, 4)).toEqual([1, 1, 1, 1]);
    expect(second).toBeInstanceOf(WorkflowCompensatedError);
    expect((second as WorkflowCompensatedError).storedError).toEqual({ name: "Error", message: "operation 3 failed", operationIndex: 3, operationName: "op-3", stack: expect.stringMatching(/^Error: operation 3 failed\n/) });
    expect(provider.stored(keys)).toBeUndefined();
  });

  it("stores the outputs of the operations still to restore only, so a migration keeping the record as it is resumes it", async () => {
    const keys = uniqueKeys();
    const log = operationLog();
    const provider = timelineProvider(log, (status, next) => status === "compensating" && next === 1);
    await rejectionOf(runCounted(provider, keys, 4, { log, onForge: failAt(3) }));
    expect(provider.stored(keys)).toMatchObject({ status: "compensating", nextOperationIndex: 2, outputs: { 0: "out-0", 1: "out-1" } });
    expect(Object.keys(provider.stored(keys)?.outputs ?? {})).toEqual(["0", "1"]);

    provider.intercept = {};
    log.events.length = 0;
    const { workflow } = countedWorkflow(4, { restore: everyRestore, log, version: "2" });
    const foundry = usePersistence(createFoundry("Host"), provider, { ...keys, onDefinitionMismatch: (snapshot) => ({ ...snapshot }) });
    await expect(createSmith().forge(workflow, foundry)).rejects.toBeInstanceOf(WorkflowCompensatedError);
    expect(log.events).toEqual(["restore:1", "restore:0"]);
    expect(provider.stored(keys)).toBeUndefined();
  });

  it("runs the remaining restores with the properties stored, not the new foundry's initial ones", async () => {
    const keys = uniqueKeys();
    const released: unknown[] = [];
    let refundFails = true;
    const workflow = createWorkflow("Order")
      .withOperation(
        "reserve",
        (_input, foundry) => {
          foundry.properties.reservationId = "R-9";
          return "reserved";
        },
        (_output, foundry) => void released.push(foundry.properties.reservationId),
      )
      .withOperation("charge", () => "charged", () => {
        if (refundFails) throw new Error("refund service down");
      })
      .withOperation("ship", () => {
        throw new Error("no stock");
      })
      .build();
    const provider = new RecordingProvider();
    const run = () => createSmith({ failFastCompensation: true }).forge(workflow, usePersistence(createFoundry("Order", { properties: {} }), provider, keys));
    await rejectionOf(run());
    expect(provider.stored(keys)).toMatchObject({ status: "compensating", properties: { reservationId: "R-9" } });
    refundFails = false;
    await expect(run()).rejects.toBeInstanceOf(WorkflowCompensatedError);
    expect(released).toEqual(["R-9"]);
  });

  it("resumes forward when the crash came before the first restore, since nothing was undone", async () => {
    const keys = uniqueKeys();
    const log = operationLog();
    const provider = timelineProvider(log, (status) => status === "compensating");
    const fails = (index: number, attempt: number) => failAt(2)(attempt === 1 ? index : -1);
    await expect(runCounted(provider, keys, 3, { log, onForge: fails })).rejects.toBeInstanceOf(PersistenceError);
    expect(log.restores).toEqual([]);
    provider.intercept = {};
    await expect(runCounted(provider, keys, 3, { log, onForge: fails })).resolves.toBe("out-2");
    expect(runCounts(log, 3)).toEqual([1, 1, 2]);
    expect(log.restores).toEqual([]);
  });
});

describe("no compensation when the run may be resumed or is owned elsewhere", () => {
  it("does not compensate after an abort and leaves the snapshot in place", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const controller = new AbortController();
    const log = operationLog();
    const abortAtOne = (index: number) => {
      if (index !== 1) return;
      controller.abort(new Error("shutting down"));
      throw new Error("interrupted");
    };
    const error = await rejectionOf(runCounted(provider, keys, 3, { log, onForge: abortAtOne, signal: controller.signal }));
    expect((error as Error).name).toBe("AbortError");
    expect(log.restores).toEqual([]);
    expect(provider.saves.map((snapshot) => snapshot.status)).not.toContain("compensating");
    expect(provider.stored(keys)).toMatchObject({ status: "running", nextOperationIndex: 1 });
  });

  it("does not compensate after a PersistenceError and leaves the snapshot in place", async () => {
    const keys = uniqueKeys();
    const log = operationLog();
    const provider = timelineProvider(log, (_, next) => next === 2);
    await expect(runCounted(provider, keys, 3, { log })).rejects.toBeInstanceOf(PersistenceError);
    expect(log.restores).toEqual([]);
    expect(runCounts(log, 3)).toEqual([1, 1, 0]);
    expect(provider.stored(keys)).toMatchObject({ status: "running", nextOperationIndex: 1, revision: 1 });
  });

  it("does not compensate after a SnapshotConflictError and leaves the other owner's snapshot in place", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys();
    const log = operationLog();
    const anotherProcessWrites = (index: number) => {
      if (index !== 1) return;
      const stored = provider.stored(keys);
      if (stored !== undefined) provider.inner.save({ ...stored, revision: stored.revision + 1, owner: "other-process" });
    };
    const error = await rejectionOf(runCounted(provider, keys, 3, { log, onForge: anotherProcessWrites }));
    expect(error).toBeInstanceOf(SnapshotConflictError);
    expect(log.restores).toEqual([]);
    expect(runCounts(log, 3)).toEqual([1, 1, 0]);
    expect(provider.stored(keys)).toMatchObject({ owner: "other-process", revision: 2, nextOperationIndex: 1 });
  });
});

describe("restore payloads after a resume", () => {
  it("come from the snapshot's outputs, not from re-running the operation", async () => {
    const keys = uniqueKeys();
    const log = operationLog();
    let runNumber = 1;
    const output = (index: number) => (index === 0 ? { reservation: `made in run ${runNumber}` } : `out-${index}`);
    // Run A completes op 0 (which has a restore), then dies at op 1's checkpoint: no compensation.
    const provider = timelineProvider(log, (_, next) => next === 2);
    await expect(runCounted(provider, keys, 3, { log, output })).rejects.toBeInstanceOf(PersistenceError);
    expect(provider.stored(keys)?.outputs).toEqual({ 0: { reservation: "made in run 1" } });

    // Run B skips op 0, runs op 1, fails at op 2 and compensates.
    provider.intercept = {};
    runNumber = 2;
    await expect(runCounted(provider, keys, 3, { log, output, onForge: failAt(2) })).rejects.toThrow("operation 2 failed");
    expect(runCounts(log, 3)).toEqual([1, 2, 1]);
    expect(log.restores[0]).toEqual([{ reservation: "made in run 1" }]);
    expect(log.restores[1]).toEqual(["out-1"]);
  });

  it("record the branch a conditional took, so its compensation undoes that branch", async () => {
    const keys = uniqueKeys();
    const undone: string[] = [];
    let takeThen = true;
    let predicateCalls = 0;
    const build = (shipFails: boolean) =>
      createWorkflow("Routed")
        .addOperation(
          conditional(
            "route",
            () => {
              predicateCalls++;
              return takeThen;
            },
            delegate("express", () => "express-label", (label) => void undone.push(`express:${String(label)}`)),
            delegate("standard", () => "standard-label", (label) => void undone.push(`standard:${String(label)}`)),
          ),
        )
        .withOperation("charge", () => "charged")
        .withOperation("ship", () => {
          if (shipFails) throw new Error("carrier down");
          return "shipped";
        })
        .build();
    const run = (provider: RecordingProvider, shipFails: boolean) =>
      createSmith().forge(build(shipFails), usePersistence(createFoundry("Host"), provider, keys));

    const provider = new RecordingProvider(undefined, {
      save: (snapshot) => {
        if (snapshot.nextOperationIndex === 2) throw new Error("process died");
      },
    });
    await expect(run(provider, false)).rejects.toBeInstanceOf(PersistenceError);
    expect(provider.stored(keys)?.outputs).toEqual({ 0: { branch: "then", data: "express-label" } });

    provider.intercept = {};
    takeThen = false;
    await expect(run(provider, true)).rejects.toThrow("carrier down");
    expect(predicateCalls).toBe(1);
    expect(undone).toEqual(["express:express-label"]);
  });
});
