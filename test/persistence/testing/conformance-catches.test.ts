import { describe, expect, it } from "vitest";
import {
  createSnapshotCodec,
  defaultSnapshotCodec,
  MemoryPersistenceProvider,
  SnapshotConflictError,
  type SnapshotCodec,
  type WorkflowExecutionSnapshot,
  type WorkflowPersistenceProvider,
} from "../../../src/persistence/index.js";
import { pairKey } from "../../../src/persistence/keys.js";
import { conformanceCases } from "../../../src/persistence/testing/index.js";

// Providers a user could plausibly write, each wrong in one way the kit must name.

const keyOf = (foundryExecutionId: string, workflowId: string): string => pairKey({ foundryExecutionId, workflowId });

/** Keeps the object it was given and hands that same object back. */
function sharingProvider(): WorkflowPersistenceProvider {
  const rows = new Map<string, WorkflowExecutionSnapshot>();
  return {
    save: (snapshot) => void rows.set(keyOf(snapshot.foundryExecutionId, snapshot.workflowId), snapshot),
    tryLoad: (instance, workflow) => rows.get(keyOf(instance, workflow)),
    delete: (instance, workflow) => void rows.delete(keyOf(instance, workflow)),
  };
}

/** Stores `JSON.stringify(snapshot)` (BigInts as strings, which it would otherwise refuse): Dates come back as strings, Maps and Sets as empty objects. */
function jsonProvider(): WorkflowPersistenceProvider {
  const rows = new Map<string, string>();
  return {
    save: (snapshot) => void rows.set(keyOf(snapshot.foundryExecutionId, snapshot.workflowId), JSON.stringify(snapshot, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value))),
    tryLoad: (instance, workflow) => {
      const row = rows.get(keyOf(instance, workflow));
      return row === undefined ? undefined : (JSON.parse(row) as WorkflowExecutionSnapshot);
    },
    delete: (instance, workflow) => void rows.delete(keyOf(instance, workflow)),
  };
}

/** Declares compare-and-set and list, but refuses a stale save with a plain Error and lists everything whatever the filter. */
function sloppyProvider(): WorkflowPersistenceProvider {
  const inner = new MemoryPersistenceProvider();
  return {
    capabilities: { compareAndSet: true, list: true },
    save: (snapshot) => {
      const stored = inner.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId);
      if ((stored?.revision ?? 0) !== snapshot.revision - 1) throw new Error("revision mismatch");
      inner.save(snapshot);
    },
    tryLoad: (instance, workflow) => inner.tryLoad(instance, workflow),
    delete: (instance, workflow) => inner.delete(instance, workflow),
    list: () => inner.list(),
  };
}

/** Compare-and-set that only refuses what is not ahead of the stored revision: a save may skip revisions. */
function jumpingProvider(): WorkflowPersistenceProvider {
  const rows = new Map<string, WorkflowExecutionSnapshot>();
  return {
    capabilities: { compareAndSet: true },
    save: (snapshot) => {
      const stored = rows.get(keyOf(snapshot.foundryExecutionId, snapshot.workflowId));
      if (snapshot.revision <= (stored?.revision ?? 0) || (stored === undefined && snapshot.revision !== 1)) throw new SnapshotConflictError({ keys: snapshot, detail: "stale" });
      rows.set(keyOf(snapshot.foundryExecutionId, snapshot.workflowId), structuredClone(snapshot));
    },
    tryLoad: (instance, workflow) => structuredClone(rows.get(keyOf(instance, workflow))),
    delete: (instance, workflow) => void rows.delete(keyOf(instance, workflow)),
  };
}

/** Stores only the fields it has columns for: SPEC's list, without the wait and cancellation fields. */
function columnsProvider(): WorkflowPersistenceProvider {
  const rows = new Map<string, WorkflowExecutionSnapshot>();
  const dropped = new Set(["wakeAt", "waitingFor", "consumedEvents", "cancelledAt"]);
  return {
    save: (snapshot) => void rows.set(keyOf(snapshot.foundryExecutionId, snapshot.workflowId), Object.fromEntries(Object.entries(structuredClone(snapshot)).filter(([field]) => !dropped.has(field))) as unknown as WorkflowExecutionSnapshot),
    tryLoad: (instance, workflow) => structuredClone(rows.get(keyOf(instance, workflow))),
    delete: (instance, workflow) => void rows.delete(keyOf(instance, workflow)),
  };
}

/** Stores the encoded text, with `codec`; a text over `maxBytes` it drops without a word, as a store with a lower limit of its own might. */
function encodingProvider(codec: SnapshotCodec, maxBytes = Number.POSITIVE_INFINITY): WorkflowPersistenceProvider {
  const rows = new Map<string, string>();
  return {
    save: (snapshot) => {
      const text = codec.encode(snapshot);
      if (Buffer.byteLength(text) <= maxBytes) rows.set(keyOf(snapshot.foundryExecutionId, snapshot.workflowId), text);
    },
    tryLoad: (instance, workflow) => {
      const text = rows.get(keyOf(instance, workflow));
      return text === undefined ? undefined : codec.decode(text, { foundryExecutionId: instance, workflowId: workflow });
    },
    delete: (instance, workflow) => void rows.delete(keyOf(instance, workflow)),
  };
}

/** Runs the cases of the large group; resolves the failures, one line each. */
async function largeFailures(provider: WorkflowPersistenceProvider): Promise<string[]> {
  const failed: string[] = [];
  for (const testCase of conformanceCases.filter((candidate) => candidate.group === "large")) {
    await testCase.run(provider).catch((error: unknown) => void failed.push(`${testCase.name}: ${String(error)}`));
  }
  return failed;
}

function caseNamed(start: string) {
  const found = conformanceCases.find((testCase) => testCase.name.startsWith(start));
  if (found === undefined) throw new Error(`no conformance case named "${start}…"`);
  return found;
}

describe("the conformance kit catches", () => {
  it("a provider that keeps the caller's objects: changes made after save or after tryLoad reach the store", async () => {
    const isolation = caseNamed("what is stored is the provider's own");
    await expect(isolation.run(sharingProvider())).rejects.toThrow(/Expected values to be strictly deep-equal[\s\S]*changed after (save|tryLoad)/);
  });

  it("a provider that stores JSON: Dates, Maps, Sets, BigInts and the rest do not come back as saved", async () => {
    const values = caseNamed("save then tryLoad round-trips every value type");
    expect(values.group).toBe("values");
    await expect(values.run(jsonProvider())).rejects.toThrow(/Expected values to be strictly deep-equal/);
  });

  it("a conflict refused with the wrong error, naming what the provider threw", async () => {
    const stale = caseNamed("save with a stale revision rejects");
    await expect(stale.run(sloppyProvider())).rejects.toThrow("a stale save must reject with SnapshotConflictError (code SNAPSHOT_CONFLICT), but rejected with Error: revision mismatch");
  });

  it("a list that ignores its filter, naming the filter", async () => {
    const filtered = caseNamed("list(filter) returns stored snapshots matching");
    await expect(filtered.run(sloppyProvider())).rejects.toThrow(/^list\(\{"workflowName":"List-wf-[^"]+"\}\) returned the wrong instances/);
  });

  it("a compare-and-set that lets a save skip revisions, which a stale writer's late checkpoint would use to overwrite a newer run", async () => {
    await expect(caseNamed("save of a revision past the next one rejects").run(jumpingProvider())).rejects.toThrow("revision 3 over stored revision 1 must reject with SnapshotConflictError");
  });

  it("a provider that loses the wait and cancellation fields, which every durable sleep needs", async () => {
    await expect(caseNamed("save then tryLoad round-trips the fields of a waiting snapshot").run(columnsProvider())).rejects.toThrow(/Expected values to be strictly deep-equal/);
  });

  it("a store that silently drops snapshots over 3.5 MiB, which the default codec accepts up to 4 MiB", async () => {
    expect(await largeFailures(encodingProvider(defaultSnapshotCodec, 3.5 * 1024 * 1024))).toEqual([
      "a snapshot the default codec encodes in exactly its limit, 4 MiB, round-trips: AssertionError [ERR_ASSERTION]: tryLoad must return the snapshot just saved, 4194304 bytes encoded, but returned nothing",
    ]);
  });

  it("saves a snapshot the default codec encodes in exactly its limit: one byte less refuses it, and the limit itself keeps it", async () => {
    const [refused] = await largeFailures(encodingProvider(createSnapshotCodec({ maxSnapshotBytes: 4 * 1024 * 1024 - 1 })));
    expect(refused).toContain("the encoded snapshot is 4194304 bytes, over maxSnapshotBytes 4194303");
    expect(await largeFailures(encodingProvider(defaultSnapshotCodec))).toEqual([]);
  });

  it("and passes both on a provider that copies and encodes", async () => {
    for (const start of ["what is stored is the provider's own", "save then tryLoad round-trips every value type"]) await caseNamed(start).run(new MemoryPersistenceProvider());
  });
});
