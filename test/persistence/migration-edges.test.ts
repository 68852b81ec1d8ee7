import { describe, expect, it } from "vitest";
import { createFoundry, createSmith, createWorkflow, isSuspended, sleep as sleepFor } from "../../src/index.js";
import { MemoryPersistenceProvider, WorkflowDefinitionMismatchError, createRecoveryCoordinator, usePersistence, type SnapshotMigration, type WorkflowExecutionSnapshot } from "../../src/persistence/index.js";
import { fingerprintOf } from "../../src/persistence/snapshot.js";
import { rejectionOf, sleep } from "../support/promises.js";

// What a migration (onDefinitionMismatch) may and may not do, beyond the drift cases of drift.test.ts.

const keys = { instanceId: "o-1", workflowKey: "Order" };

/** What a run of "reserve" then a failing "ship" leaves: "reserve" done, stored `failed` at index 1. */
async function storedV1(provider: MemoryPersistenceProvider): Promise<void> {
  const v1 = createFoundry("Order")
    .withOperation("reserve", () => "R")
    .withOperation("ship", () => {
      throw new Error("carrier down");
    });
  await usePersistence(v1, provider, keys).forge().catch(() => undefined);
}

/** v2 inserts "pack" before "ship", recording what runs. */
const v2Operations = (ran: string[]) =>
  createWorkflow("Order")
    .withOperation("reserve", () => (ran.push("reserve"), "R"))
    .withOperation("pack", () => (ran.push("pack"), "P"))
    .withOperation("ship", () => (ran.push("ship"), "S"))
    .build();

// Forgets to carry the properties over: `properties` is not an object, so the result is not a snapshot.
const brokenMigration = ((snapshot: { properties: { legacy?: unknown } }) => ({ ...snapshot, properties: snapshot.properties.legacy, nextOperationIndex: 1 })) as unknown as SnapshotMigration;

describe("a migration whose result throws when read", () => {
  it("is the migration's failure (WorkflowDefinitionMismatchError), not the first operation's, and nothing runs", async () => {
    const provider = new MemoryPersistenceProvider();
    await storedV1(provider);
    const ran: string[] = [];
    const migration = ((snapshot: WorkflowExecutionSnapshot) => Object.defineProperty({ ...snapshot }, "nextOperationIndex", { enumerable: true, get: () => { throw new Error("bad getter"); } })) as SnapshotMigration;
    const error = await rejectionOf(createSmith().forge(v2Operations(ran), usePersistence(createFoundry("Order"), provider, { ...keys, onDefinitionMismatch: migration })));
    expect(error).toBeInstanceOf(WorkflowDefinitionMismatchError);
    expect((error as Error).message).toContain("reading (copying) what the migration function returned threw: bad getter");
    expect(ran).toEqual([]);
  });

  it.each([
    ["a getter deep in its outputs", (snapshot: WorkflowExecutionSnapshot) => ({ ...snapshot, nextOperationIndex: 1, outputs: Object.defineProperty({}, "0", { enumerable: true, get: () => { throw new Error("outputs boom"); } }) })],
    ["a getter deep in its properties", (snapshot: WorkflowExecutionSnapshot) => ({ ...snapshot, nextOperationIndex: 1, properties: Object.defineProperty({}, "total", { enumerable: true, get: () => { throw new Error("properties boom"); } }) })],
    ["a function among its properties", (snapshot: WorkflowExecutionSnapshot) => ({ ...snapshot, nextOperationIndex: 1, properties: { ...snapshot.properties, notify: () => "not data" } })],
  ])("is the migration's failure for %s, before anything runs", async (_what, migrate) => {
    const provider = new MemoryPersistenceProvider();
    await storedV1(provider);
    const ran: string[] = [];
    const error = await rejectionOf(createSmith().forge(v2Operations(ran), usePersistence(createFoundry("Order"), provider, { ...keys, onDefinitionMismatch: migrate as SnapshotMigration })));
    expect(error).toBeInstanceOf(WorkflowDefinitionMismatchError);
    expect((error as Error).message).toContain("reading (copying) what the migration function returned threw");
    expect(ran).toEqual([]);
  });
});

describe("the advice a mismatch gives", () => {
  it("names where to set onDefinitionMismatch when it was \"error\", and gives none once a migration was refused", async () => {
    const provider = new MemoryPersistenceProvider();
    await storedV1(provider);
    const refused = await rejectionOf(createSmith().forge(v2Operations([]), usePersistence(createFoundry("Order"), provider, keys)));
    expect((refused as Error).message).toMatch(/To proceed, set onDefinitionMismatch \("restart", or a migration function\) where this run's persistence is set up: usePersistence, or createRecoveryCoordinator$/);
    const migrated = await rejectionOf(createSmith().forge(v2Operations([]), usePersistence(createFoundry("Order"), provider, { ...keys, onDefinitionMismatch: brokenMigration })));
    expect((migrated as Error).message).not.toContain("To proceed");
  });
});

describe("a migration whose result is not a snapshot", () => {
  it("is refused with WorkflowDefinitionMismatchError saying what is wrong, and nothing runs", async () => {
    const provider = new MemoryPersistenceProvider();
    await storedV1(provider);
    const ran: string[] = [];
    const error = await rejectionOf(createSmith().forge(v2Operations(ran), usePersistence(createFoundry("Order"), provider, { ...keys, onDefinitionMismatch: brokenMigration })));
    expect(error).toBeInstanceOf(WorkflowDefinitionMismatchError);
    expect((error as Error).message).toContain("the migration function returned what is not a snapshot: it is not a snapshot: missing properties");
    expect((error as Error).message).not.toContain("tryLoad");
    expect(ran).toEqual([]);
  });

  it.for([null, "v2", 2])("is refused the same way when it is %j, which plain JavaScript may return, and the record stays", async (result) => {
    const provider = new MemoryPersistenceProvider();
    await storedV1(provider);
    const ran: string[] = [];
    const migration = (() => result) as unknown as SnapshotMigration;
    const error = await rejectionOf(createSmith().forge(v2Operations(ran), usePersistence(createFoundry("Order"), provider, { ...keys, onDefinitionMismatch: migration })));
    expect(error).toBeInstanceOf(WorkflowDefinitionMismatchError);
    expect((error as Error).message).toContain(`the migration function returned ${result === null ? "null" : typeof result}, not a snapshot (return undefined to start fresh)`);
    expect([ran, provider.tryLoad(keys.instanceId, keys.workflowKey)?.status]).toEqual([[], "failed"]);
  });

  it("costs the recovery coordinator no attempt and never makes a dead letter: fixed, the next pass resumes it", async () => {
    const provider = new MemoryPersistenceProvider();
    await storedV1(provider);
    const ran: string[] = [];
    let migrate = brokenMigration;
    const coordinator = createRecoveryCoordinator({
      provider,
      resolveWorkflow: () => v2Operations(ran),
      onDefinitionMismatch: (snapshot, workflow) => migrate(snapshot, workflow),
      leaseTtlMs: 40,
      retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    });
    for (let pass = 0; pass < 4; pass++) {
      const report = await coordinator.resumeAll();
      expect(report.failed).toMatchObject([{ instanceId: "o-1", deadLettered: false }]);
      expect(report.failed[0]?.error).toBeInstanceOf(WorkflowDefinitionMismatchError);
      await sleep(60);
    }
    expect(ran).toEqual([]);
    expect(provider.tryLoad(keys.instanceId, keys.workflowKey)?.attempts ?? 0).toBe(0);
    migrate = (snapshot) => ({ ...snapshot, nextOperationIndex: 1 });
    expect((await coordinator.resumeAll()).resumed).toMatchObject([{ instanceId: "o-1", output: "S" }]);
    expect(ran).toEqual(["pack", "ship"]);
    await coordinator.close();
  });

  it("a WorkflowForgeError the migration throws is a WorkflowDefinitionMismatchError too, with it as the cause", async () => {
    const provider = new MemoryPersistenceProvider();
    await storedV1(provider);
    const snapshotKeys = { foundryExecutionId: keys.instanceId, workflowId: keys.workflowKey };
    const thrown = new WorkflowDefinitionMismatchError(snapshotKeys, "Order", "its own refusal");
    const refusal = await rejectionOf(createSmith().forge(v2Operations([]), usePersistence(createFoundry("Order"), provider, { ...keys, onDefinitionMismatch: () => Promise.reject(thrown) })));
    expect(refusal).toBe(thrown);
    const other = new (await import("../../src/persistence/index.js")).PersistenceError({ source: "lookup", call: "tryLoad", keys: snapshotKeys, detail: "down" });
    const wrapped = await rejectionOf(createSmith().forge(v2Operations([]), usePersistence(createFoundry("Order"), provider, { ...keys, onDefinitionMismatch: () => Promise.reject(other) })));
    expect(wrapped).toBeInstanceOf(WorkflowDefinitionMismatchError);
    expect((wrapped as Error).cause).toBe(other);
  });
});

describe("a migration that says the instance ended", () => {
  it.each(["completed", "cancelled"] as const)("returning status %s is refused, and nothing runs", async (status) => {
    const provider = new MemoryPersistenceProvider();
    await storedV1(provider);
    const ran: string[] = [];
    const error = await rejectionOf(createSmith().forge(v2Operations(ran), usePersistence(createFoundry("Order"), provider, { ...keys, onDefinitionMismatch: (snapshot) => ({ ...snapshot, status, nextOperationIndex: 1 }) })));
    expect(error).toBeInstanceOf(WorkflowDefinitionMismatchError);
    expect((error as Error).message).toContain(`returned status "${status}"`);
    expect(ran).toEqual([]);
  });

  it("one that skips every operation instead finishes the instance, running nothing", async () => {
    const provider = new MemoryPersistenceProvider();
    await storedV1(provider);
    const ran: string[] = [];
    await createSmith().forge(v2Operations(ran), usePersistence(createFoundry("Order"), provider, { ...keys, onDefinitionMismatch: (snapshot) => ({ ...snapshot, status: "running", nextOperationIndex: 3 }) }));
    expect(ran).toEqual([]);
    expect(provider.tryLoad(keys.instanceId, keys.workflowKey)).toBeUndefined();
  });
});

describe("an operation failing right after a migration", () => {
  it("records the failure in the current definition's terms, from the migrated state", async () => {
    const provider = new MemoryPersistenceProvider();
    const v1 = createFoundry("Order")
      .withOperation("a", () => "A")
      .withOperation("b", () => "B")
      .withOperation("c", () => {
        throw new Error("c down");
      });
    await usePersistence(v1, provider, keys).forge().catch(() => undefined);
    expect(provider.tryLoad(keys.instanceId, keys.workflowKey)).toMatchObject({ status: "failed", nextOperationIndex: 2, operationCount: 3 });
    const operations = ["x", "a", "b"];
    const v2 = createFoundry("Order");
    for (const name of operations) v2.withOperation(name, () => name.toUpperCase());
    v2.withOperation("c", () => {
      throw new Error("c still down");
    });
    const migrate: SnapshotMigration = (snapshot) => ({ ...snapshot, nextOperationIndex: snapshot.nextOperationIndex + 1, properties: { ...snapshot.properties, migrated: true } });
    // A bare foundry records the failure and compensates nothing (a smith would undo and delete it).
    const error = await rejectionOf(usePersistence(v2, provider, { ...keys, onDefinitionMismatch: migrate }).forge());
    expect((error as Error).message).toContain("c still down");
    expect(provider.tryLoad(keys.instanceId, keys.workflowKey)).toMatchObject({
      status: "failed",
      nextOperationIndex: 3,
      operationCount: 4,
      definitionFingerprint: fingerprintOf({ version: undefined, operations: [...operations, "c"].map((name) => ({ name })) } as never),
      properties: { migrated: true },
      error: { operationIndex: 3, operationName: "c" },
    });
  });
});

describe("a coordinator's claim of an instance of another definition, whose first operation then fails", () => {
  class Recording extends MemoryPersistenceProvider {
    readonly saved: WorkflowExecutionSnapshot[] = [];
    override save(snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal) {
      this.saved.push(structuredClone(snapshot));
      return super.save(snapshot, signal);
    }
  }
  const current = createWorkflow("W")
    .withVersion("2")
    .withOperation("a", () => {
      throw new Error("a broke");
    })
    .withOperation("x", () => "X")
    .withOperation("b", () => "B")
    .build();

  it.each<[string, "restart" | SnapshotMigration]>([
    ["restart", "restart"],
    ["a migration returning undefined", () => undefined],
    ["a migration", (snapshot) => ({ ...snapshot, nextOperationIndex: 0, lastOutput: undefined })],
  ])("with %s: the failure record it writes is in the current definition's terms", async (_name, onDefinitionMismatch) => {
    const provider = new Recording();
    const old = createFoundry("W")
      .withOperation("a", () => "A")
      .withOperation("b", () => {
        throw new Error("carrier down");
      });
    await usePersistence(old, provider, { instanceId: "i-1", workflowKey: "W" }).forge().catch(() => undefined);
    const oldFingerprint = provider.tryLoad("i-1", "W")?.definitionFingerprint;
    provider.saved.length = 0;
    const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => current, onDefinitionMismatch, retry: { attempts: 1 }, leaseTtlMs: 1_000 });
    await coordinator.resumeAll();
    await coordinator.close();
    const failed = provider.saved.find((snapshot) => snapshot.status === "failed" && snapshot.error?.operationName === "a");
    expect(failed).toMatchObject({ operationCount: 3, nextOperationIndex: 0, definitionFingerprint: fingerprintOf(current), error: { operationIndex: 0 } });
    expect(failed?.definitionFingerprint).not.toBe(oldFingerprint);
  });
});

describe("a record being compensated, under a changed definition", () => {
  const charge = (log: string[], extra: boolean) => {
    let builder = createWorkflow("Order")
      .withVersion(extra ? "2" : "1")
      .addOperation({ name: "charge", forge: () => (log.push("charge"), "pay-1"), restore: (id: string) => void log.push(`refund ${id}`) });
    if (extra) builder = builder.withOperation("audit", () => (log.push("audit"), "ok"));
    return builder.withOperation("ship", () => (log.push("ship"), "shipped")).build();
  };
  /** What a crash while undoing v1 leaves: "charge" done, its output kept for its restore. */
  function compensatingV1(provider: MemoryPersistenceProvider, log: string[]): void {
    const now = new Date().toISOString();
    void provider.save({
      ...{ formatVersion: 1, foundryExecutionId: keys.instanceId, workflowId: keys.workflowKey, workflowName: "Order", workflowVersion: "1" },
      ...{ definitionFingerprint: fingerprintOf(charge(log, false)), operationCount: 2, nextOperationIndex: 1, outputs: { 0: "pay-1" }, properties: {} },
      ...{ status: "compensating", error: { name: "Error", message: "carrier down", operationIndex: 1, operationName: "ship" }, revision: 1, createdAt: now, updatedAt: now },
    });
  }

  it.each([
    ["restart", "restart" as const],
    ["a migration returning undefined", (() => undefined)],
  ])("with %s is refused, never run forward again without its undo", async (_name, onDefinitionMismatch) => {
    const provider = new MemoryPersistenceProvider();
    const log: string[] = [];
    compensatingV1(provider, log);
    const error = await rejectionOf(createSmith().forge(charge(log, true), usePersistence(createFoundry("Order"), provider, { ...keys, onDefinitionMismatch })));
    expect(error).toBeInstanceOf(WorkflowDefinitionMismatchError);
    expect((error as Error).message).toContain("the record is being compensated");
    expect(log).toEqual([]);
    expect(provider.tryLoad(keys.instanceId, keys.workflowKey)).toMatchObject({ status: "compensating", revision: 1 });
  });

  it("under \"error\", advises a migration only: restart would be refused", async () => {
    const provider = new MemoryPersistenceProvider();
    const log: string[] = [];
    compensatingV1(provider, log);
    const error = await rejectionOf(createSmith().forge(charge(log, true), usePersistence(createFoundry("Order"), provider, keys)));
    expect(error).toBeInstanceOf(WorkflowDefinitionMismatchError);
    expect((error as Error).message).toMatch(/To proceed, set onDefinitionMismatch \(a migration function that maps the record being compensated to the current operations\)/);
    expect((error as Error).message).not.toContain("\"restart\"");
    expect(log).toEqual([]);
  });

  it("a migration that maps it finishes the undo", async () => {
    const provider = new MemoryPersistenceProvider();
    const log: string[] = [];
    compensatingV1(provider, log);
    const error = await rejectionOf(createSmith().forge(charge(log, true), usePersistence(createFoundry("Order"), provider, { ...keys, onDefinitionMismatch: (snapshot) => ({ ...snapshot }) })));
    expect(error).toMatchObject({ name: "WorkflowCompensatedError" });
    expect(log).toEqual(["refund pay-1"]);
  });
});

describe("a migration that resumes a waiting instance at another wait", () => {
  it("returned running without wakeAt and waitingFor, as docs/migrating-definitions.md says, that wait fixes its own wake time", async () => {
    const provider = new MemoryPersistenceProvider();
    const v1 = createWorkflow("Order").withVersion("1").withOperation("prepare", () => "p").addOperation(sleepFor("short", 5_000)).withOperation("ship", () => "shipped").build();
    expect(isSuspended(await rejectionOf(createSmith().forge(v1, usePersistence(createFoundry("Order"), provider, keys))))).toBe(true);
    const day = 24 * 3_600_000;
    const v2 = createWorkflow("Order").withVersion("2").withOperation("prepare", () => "p").addOperation(sleepFor("grace", day)).addOperation(sleepFor("short", 5_000)).withOperation("ship", () => "shipped").build();
    const migrate: SnapshotMigration = (snapshot) => {
      const moved = { ...snapshot, status: "running" as const, nextOperationIndex: 1 };
      delete moved.wakeAt;
      delete moved.waitingFor;
      return moved;
    };
    const before = Date.now();
    const suspended = await rejectionOf(createSmith().forge(v2, usePersistence(createFoundry("Order"), provider, { ...keys, onDefinitionMismatch: migrate })));
    expect(isSuspended(suspended)).toBe(true);
    expect((suspended as { wakeAt: Date }).wakeAt.getTime()).toBeGreaterThanOrEqual(before + day);
  });
});
