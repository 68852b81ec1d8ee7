import { describe, expect, it } from "vitest";
import type { WorkflowExecutionSnapshot } from "../../../src/persistence/index.js";
import { runCounts } from "../../support/counted-workflow.js";
import { recoveryFixture } from "./fixtures.js";

// resumeAll lists an instance, then another worker finishes it before this one claims it.
function listedThen(fixture: ReturnType<typeof recoveryFixture>, meanwhile: (snapshot: WorkflowExecutionSnapshot) => void): void {
  const list = fixture.provider.list.bind(fixture.provider);
  fixture.provider.list = async (filter, signal) => {
    const listed = await list(filter, signal);
    for (const snapshot of listed) meanwhile(snapshot);
    return listed;
  };
}

describe("a recovery run continues only what it found unfinished", () => {
  it("never starts over an instance another worker completed after it was listed", async () => {
    const fixture = recoveryFixture({ listOnly: true });
    const { instanceId } = fixture.interrupted({ properties: { step: 1 } });
    listedThen(fixture, (snapshot) => fixture.provider.save({ ...snapshot, status: "completed", owner: "other-worker", revision: snapshot.revision + 1 }));
    const report = await fixture.coordinator().resumeAll();
    expect(report.resumed).toEqual([]);
    expect(report.skipped).toMatchObject([{ instanceId, status: "skipped" }]);
    expect(runCounts(fixture.log, 3)).toEqual([0, 0, 0]);
    expect(fixture.stored(instanceId)).toMatchObject({ status: "completed", owner: "other-worker" });
  });

  it("never recreates an instance another worker completed and deleted after it was listed", async () => {
    const fixture = recoveryFixture({ listOnly: true });
    const { instanceId } = fixture.interrupted();
    listedThen(fixture, (snapshot) => fixture.provider.delete(snapshot.foundryExecutionId, snapshot.workflowId));
    const report = await fixture.coordinator().resumeAll();
    expect(report.resumed).toEqual([]);
    expect(runCounts(fixture.log, 3)).toEqual([0, 0, 0]);
    expect(fixture.stored(instanceId)).toBeUndefined();
  });

  it("never starts over an instance completed between the coordinator's read and the run", async () => {
    const fixture = recoveryFixture();
    const { instanceId, workflowKey } = fixture.interrupted();
    const load = fixture.provider.tryLoad.bind(fixture.provider);
    fixture.provider.tryLoad = (id, key) => {
      const snapshot = load(id, key);
      // Another worker claims and completes the instance right after this read.
      if (snapshot?.status === "running") fixture.provider.save({ ...snapshot, status: "completed", owner: "other-worker", revision: snapshot.revision + 1 });
      return snapshot;
    };
    const outcome = await fixture.coordinator().resume(instanceId, workflowKey);
    expect(outcome).toMatchObject({ status: "skipped", reason: "claimed" });
    expect(runCounts(fixture.log, 3)).toEqual([0, 0, 0]);
    expect(fixture.stored(instanceId)).toMatchObject({ status: "completed", owner: "other-worker" });
  });

  it("without claim(): loads nothing again: one list, then the claim, the checkpoints and the delete", async () => {
    const fixture = recoveryFixture({ listOnly: true });
    fixture.interrupted();
    const calls: string[] = [];
    for (const method of ["tryLoad", "save", "delete", "list"] as const) {
      const original = fixture.provider[method].bind(fixture.provider) as (...args: unknown[]) => unknown;
      (fixture.provider as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => (calls.push(method), original(...args));
    }
    const report = await fixture.coordinator().resumeAll();
    expect(report.resumed).toHaveLength(1);
    // Operations 1 and 2 remain: claim, two checkpoints, delete.
    expect(calls).toEqual(["list", "save", "save", "save", "delete"]);
  });
});
