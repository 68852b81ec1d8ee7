import Database from "better-sqlite3";
import { describe, it, expect } from "vitest";
import { defaultSnapshotCodec, MemoryPersistenceProvider, PersistenceError, SnapshotCorruptedError, type RecoveryOutcome, type SnapshotKeys, type WorkflowExecutionSnapshot, type WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { SqlitePersistenceProvider } from "../../../src/persistence/providers/sqlite.js";
import { unreadableCodec } from "../../support/custom-codec.js";
import { deferred, settle, sleep } from "../../support/promises.js";
import { listOnlyProvider, recoveryFixture } from "./fixtures.js";
import { listSnapshots } from "../../../src/persistence/recovery/list.js";

const live = () => new Date(Date.now() + 60_000).toISOString();

describe("coordinator.resumeAll", () => {
  it("reports every unfinished instance as resumed, failed or skipped, and touches nothing finished", async () => {
    const fixture = recoveryFixture({ listOnly: true });
    const error = { name: "Error", message: "boom", operationIndex: 1, operationName: "op-1" };
    const resumable = [fixture.interrupted(), fixture.interrupted({ status: "failed", attempts: 1, error })];
    const unknown = fixture.interrupted({ workflowName: "Refunds" });
    const claimed = fixture.interrupted({ owner: "worker-2", leaseExpiresAt: live() });
    // A dead letter as a coordinator writes it: no lease.
    const dead = fixture.interrupted({ status: "failed", attempts: 3, error, leaseExpiresAt: undefined });
    const completed = fixture.interrupted({ status: "completed", nextOperationIndex: 3 });

    const report = await fixture.coordinator().resumeAll();

    const ids = (items: readonly { instanceId: string }[]) => items.map((item) => item.instanceId).sort();
    expect(ids(report.resumed)).toEqual(resumable.map((ref) => ref.instanceId).sort());
    expect(report.failed).toHaveLength(1);
    expect(report.failed[0]).toMatchObject({ instanceId: unknown.instanceId, deadLettered: false });
    expect(report.failed[0]?.error.message).toMatch(/no workflow definition for "Refunds"/);
    expect(report.skipped.map(({ instanceId, reason }) => ({ instanceId, reason })).sort((a, b) => a.reason.localeCompare(b.reason))).toEqual([
      { instanceId: claimed.instanceId, reason: "claimed" },
      { instanceId: dead.instanceId, reason: "dead-letter" },
    ]);
    expect(fixture.stored(completed.instanceId)?.revision).toBe(1);
  });

  it("reports a record it cannot read as failed, leaves it stored, and resumes the others", async () => {
    const fixture = recoveryFixture();
    const database = new Database(":memory:");
    const provider = new SqlitePersistenceProvider({ database });
    const [first, second, broken] = [fixture.interrupted(), fixture.interrupted(), fixture.interrupted()].map((ref) => fixture.stored(ref.instanceId)!);
    await provider.save(first!);
    await provider.save(second!);
    await new SqlitePersistenceProvider({ database, codec: unreadableCodec }).save(broken!);

    const observed: RecoveryOutcome[] = [];
    const report = await fixture.coordinator({ provider, onOutcome: (outcome) => observed.push(outcome) }).resumeAll();

    // onOutcome sees every outcome the report holds, the unreadable record's too.
    expect(observed).toHaveLength(3);
    expect(observed).toEqual(expect.arrayContaining([...report.resumed, ...report.failed]));
    expect(report.resumed.map((item) => item.instanceId).sort()).toEqual([first!.foundryExecutionId, second!.foundryExecutionId].sort());
    expect(report.failed).toEqual([{ instanceId: broken!.foundryExecutionId, workflowKey: broken!.workflowId, status: "failed", error: expect.any(SnapshotCorruptedError), attempts: 0, deadLettered: false }]);
    expect(database.prepare("SELECT instance_id FROM workflowforge_snapshots").pluck().all()).toEqual([broken!.foundryExecutionId]);
    database.close();
  });

  it("reports a record it cannot read once a pass, though each page's claim meets it again", async () => {
    const fixture = recoveryFixture();
    const refs = [fixture.interrupted(), fixture.interrupted(), fixture.interrupted()];
    const broken = refs[1]!.instanceId;
    // The memory provider reads every record again for each page: one page per instance here.
    const codec = { encode: (snapshot: WorkflowExecutionSnapshot) => defaultSnapshotCodec.encode(snapshot), decode: (text: string, keys: SnapshotKeys) => (keys.foundryExecutionId === broken ? unreadableCodec.decode(text, keys) : defaultSnapshotCodec.decode(text, keys)) };
    const provider = new MemoryPersistenceProvider({ codec });
    for (const { instanceId } of refs) provider.save(fixture.stored(instanceId)!);
    const observed: RecoveryOutcome[] = [];
    const report = await fixture.coordinator({ provider, concurrency: 1, onOutcome: (outcome) => observed.push(outcome) }).resumeAll();
    expect(report.resumed).toHaveLength(2);
    expect(report.failed.map((outcome) => outcome.instanceId)).toEqual([broken]);
    expect(observed.filter((outcome) => outcome.status === "failed")).toHaveLength(1);
  });

  it("reports what a hand-written list() yields that is no snapshot (its rows, its text, null) as unreadable, and resumes the rest", async () => {
    const fixture = recoveryFixture({ listOnly: true });
    const good = fixture.interrupted();
    const list = fixture.provider.list.bind(fixture.provider);
    const throwing = {
      get foundryExecutionId(): string {
        throw new Error("row decoder failed");
      },
    };
    const junk = [{ foundryExecutionId: "row-7", workflowId: "Orders", data: "{}" }, defaultSnapshotCodec.encode(fixture.stored(good.instanceId)!), null, throwing];
    Object.defineProperty(fixture.provider, "list", { value: async (...args: Parameters<typeof list>) => [...(await list(...args)), ...junk] });
    const report = await fixture.coordinator().resumeAll();
    expect(report.resumed.map((outcome) => outcome.instanceId)).toEqual([good.instanceId]);
    // Reported once a pass under the keys it carries: the text, null and the throwing row carry none ("*").
    expect(report.failed.map((outcome) => [outcome.instanceId, outcome.error])).toEqual([
      ["row-7", expect.any(SnapshotCorruptedError)],
      ["*", expect.any(SnapshotCorruptedError)],
    ]);
    expect(report.failed[1]?.error.message).toContain("expected an object, got a string: list (or a codec's decode) must return the decoded snapshot object");
  });

  it("reports an entry whose reading throws as unreadable too, saying so, and rejects with it when nobody takes reports", async () => {
    const throwing = {
      get foundryExecutionId(): string {
        throw new Error("row decoder failed");
      },
    };
    const provider = { ...listOnlyProvider(), list: () => [throwing] } as unknown as WorkflowPersistenceProvider;
    const reported: SnapshotCorruptedError[] = [];
    expect(await listSnapshots(provider, {}, undefined, { onUnreadable: (error) => reported.push(error) })).toEqual([]);
    expect(reported.map((error) => [error.keys, error.message])).toEqual([[{ foundryExecutionId: "*", workflowId: "*" }, expect.stringContaining("reading what list returned threw: row decoder failed")]]);
    await expect(listSnapshots(provider, {}, undefined)).rejects.toBeInstanceOf(SnapshotCorruptedError);
  });

  it("narrows the instances with the filter", async () => {
    const fixture = recoveryFixture();
    const failedOne = fixture.interrupted({ status: "failed", error: { name: "Error", message: "x", operationIndex: 1, operationName: "op-1" } });
    fixture.interrupted();
    const report = await fixture.coordinator().resumeAll({ status: "failed" });
    expect(report.resumed.map((item) => item.instanceId)).toEqual([failedOne.instanceId]);
  });

  it("runs at most `concurrency` instances at once", async () => {
    let running = 0;
    let most = 0;
    const fixture = recoveryFixture({
      onForge: async () => {
        running++;
        most = Math.max(most, running);
        await sleep(5);
        running--;
      },
    });
    for (let i = 0; i < 8; i++) fixture.interrupted();
    const report = await fixture.coordinator({ concurrency: 3 }).resumeAll();
    expect(report.resumed).toHaveLength(8);
    expect(most).toBe(3);
  });

  it("runs more than ten instances at once without Node.js warning of an event listener leak", async () => {
    // Each attempt in progress listens to the coordinator's shutdown signals; Node.js warns past ten.
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const concurrency = 16;
      let started = 0;
      const everyoneRunning = deferred();
      const fixture = recoveryFixture({
        onForge: async () => {
          if (++started === concurrency) everyoneRunning.resolve();
          await everyoneRunning.promise;
        },
      });
      for (let i = 0; i < concurrency * 2; i++) fixture.interrupted();
      const report = await fixture.coordinator({ concurrency }).resumeAll(undefined, { signal: new AbortController().signal });
      expect(report.resumed).toHaveLength(concurrency * 2);
      // process.emitWarning emits on a later tick.
      await settle(1);
      expect(warnings.map((warning) => warning.name)).not.toContain("MaxListenersExceededWarning");
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("lets two coordinators of different owners share the work without running one instance twice", async () => {
    const fixture = recoveryFixture({ onForge: () => sleep(2) });
    const refs = Array.from({ length: 12 }, () => fixture.interrupted());
    const [a, b] = await Promise.all([fixture.coordinator({ owner: "worker-a" }).resumeAll(), fixture.coordinator({ owner: "worker-b" }).resumeAll()]);
    const resumed = [...a.resumed, ...b.resumed].map((item) => item.instanceId).sort();
    expect(resumed).toEqual(refs.map((ref) => ref.instanceId).sort());
    expect(fixture.log.runs).toEqual([undefined, 12, 12]);
    expect([...a.skipped, ...b.skipped].every((item) => item.reason === "claimed")).toBe(true);
  });

  it("rejects with PersistenceError naming the list call when the store cannot list", async () => {
    const fixture = recoveryFixture({ listOnly: true });
    fixture.provider.list = () => Promise.reject(new Error("connection reset"));
    const error: unknown = await fixture.coordinator().resumeAll().catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(PersistenceError);
    expect((error as PersistenceError).call).toBe("list");
    expect((error as Error).message).toMatch(/connection reset/);
  });

  it("reports a failed claim of one instance as failed and goes on with the others", async () => {
    const fixture = recoveryFixture();
    const broken = fixture.interrupted();
    const fine = fixture.interrupted();
    const save = fixture.provider.save.bind(fixture.provider);
    fixture.provider.save = (snapshot) => {
      if (snapshot.foundryExecutionId === broken.instanceId) throw new Error("disk error");
      return save(snapshot);
    };
    const report = await fixture.coordinator({ retry: { attempts: 1 } }).resumeAll();
    expect(report.resumed.map((item) => item.instanceId)).toEqual([fine.instanceId]);
    expect(report.failed[0]).toMatchObject({ instanceId: broken.instanceId, deadLettered: false });
    expect(report.failed[0]?.error).toBeInstanceOf(PersistenceError);
  });

  it("stops starting instances once its signal aborts", async () => {
    const gate = deferred();
    const entered = deferred();
    const fixture = recoveryFixture({
      listOnly: true,
      onForge: (_index, _attempt, _foundry, signal) => {
        if (signal.aborted) return undefined;
        entered.resolve();
        return gate.promise;
      },
    });
    const refs = Array.from({ length: 4 }, () => fixture.interrupted());
    const controller = new AbortController();
    const run = fixture.coordinator({ concurrency: 1 }).resumeAll(undefined, { signal: controller.signal });
    // The first instance is running its operation: the abort lands while it runs.
    await entered.promise;
    controller.abort();
    gate.resolve();
    const report = await run;
    // Workers start at a random place in what they listed: which one started is not fixed.
    const started = refs.filter((ref) => fixture.stored(ref.instanceId)?.owner === "worker-1").map((ref) => ref.instanceId);
    expect(started).toHaveLength(1);
    const notStarted = report.failed.filter((item) => !started.includes(item.instanceId));
    expect(notStarted.map((item) => [item.instanceId, item.error.name]).sort()).toEqual(refs.filter((ref) => !started.includes(ref.instanceId)).map((ref) => [ref.instanceId, "AbortError"]).sort());
    expect(fixture.log.runs[1]).toBe(1);
  });
});
