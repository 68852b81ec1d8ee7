import { describe, expect, it } from "vitest";
import { matchesFilter, MemoryPersistenceProvider, SnapshotConflictError, type WorkflowExecutionSnapshot, type WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { conformanceCases } from "../../../src/persistence/testing/index.js";

// Stores that each change keys in one way a real store does, and the key case that must name it.

/**
 * A store that keeps each key as `stored(key)` and reads that back: what a store does that
 * transcodes, normalises, truncates or unescapes keys on the way in.
 */
function keyChangingProvider(stored: (key: string) => string): WorkflowPersistenceProvider {
  const memory = new MemoryPersistenceProvider();
  const as = (snapshot: WorkflowExecutionSnapshot): WorkflowExecutionSnapshot => ({ ...snapshot, foundryExecutionId: stored(snapshot.foundryExecutionId), workflowId: stored(snapshot.workflowId) });
  return {
    capabilities: { compareAndSet: true, list: true },
    // Compare-and-set is not under test: a key that now names an existing record overwrites it.
    save: (snapshot) => memory.save({ ...as(snapshot), revision: (memory.tryLoad(stored(snapshot.foundryExecutionId), stored(snapshot.workflowId))?.revision ?? 0) + 1 }),
    tryLoad: (instance, workflow) => {
      const found = memory.tryLoad(stored(instance), stored(workflow));
      return found === undefined ? undefined : { ...found, revision: 1 };
    },
    delete: (instance, workflow) => memory.delete(stored(instance), stored(workflow)),
    list: async (filter) => memory.list(filter?.workflowId === undefined ? filter : { ...filter, workflowId: stored(filter.workflowId) }),
  };
}

// What UTF-8 does to a lone surrogate.
const utf8 = (key: string): string => key.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");

// How a case-insensitive collation or file system compares keys (some fold ASCII letters only).
const asciiLower = (key: string): string => key.replace(/[A-Z]/g, (letter) => letter.toLowerCase());

/**
 * A store that keeps each record as saved but finds it by `compared(key)`: a table under a `_ci` or
 * PAD SPACE collation, a file on a case-insensitive file system. With `compareAndSet`, a first save
 * where it finds a record is refused; without, it replaces the record.
 */
function comparingProvider(compared: (key: string) => string, compareAndSet: boolean): WorkflowPersistenceProvider {
  const rows = new Map<string, WorkflowExecutionSnapshot>();
  const keyOf = (instance: string, workflow: string): string => JSON.stringify([compared(instance), compared(workflow)]);
  return {
    capabilities: { compareAndSet, list: true },
    save: (snapshot) => {
      const stored = rows.get(keyOf(snapshot.foundryExecutionId, snapshot.workflowId));
      if (compareAndSet && (stored?.revision ?? 0) !== snapshot.revision - 1) throw new SnapshotConflictError({ keys: snapshot, detail: `the stored revision is ${stored?.revision ?? 0}` });
      rows.set(keyOf(snapshot.foundryExecutionId, snapshot.workflowId), structuredClone(snapshot));
    },
    tryLoad: (instance, workflow) => structuredClone(rows.get(keyOf(instance, workflow))),
    delete: (instance, workflow) => void rows.delete(keyOf(instance, workflow)),
    list: ({ workflowId, ...filter } = {}) =>
      Promise.resolve(
        [...rows.values()]
          .filter((snapshot) => matchesFilter(snapshot, filter) && (workflowId === undefined || compared(workflowId) === compared(snapshot.workflowId)))
          .map((snapshot) => structuredClone(snapshot)),
      ),
  };
}

/** Runs every case of the keys group on a fresh provider each; resolves the failures, one line each. */
async function keyFailures(create: () => WorkflowPersistenceProvider): Promise<string[]> {
  const failed: string[] = [];
  for (const testCase of conformanceCases.filter((candidate) => candidate.group === "keys")) {
    await testCase.run(create()).catch((error: unknown) => void failed.push(`${testCase.name}: ${String(error)}`));
  }
  return failed;
}

function caseNamed(start: string) {
  const found = conformanceCases.find((testCase) => testCase.name.startsWith(start));
  if (found === undefined) throw new Error(`no conformance case named "${start}…"`);
  return found;
}

describe("the conformance kit's key cases catch", () => {
  it("a store that turns lone surrogates into U+FFFD, naming the key tryLoad got wrong", async () => {
    const lone = caseNamed("keys holding lone surrogates");
    await expect(lone.run(keyChangingProvider(utf8))).rejects.toThrow(/^tryLoad\["a\\ud800","w-keys-[^"]+"\] must return the snapshot saved under exactly those keys/);
  });

  it("a store that normalises keys to NFC, which merges é and e + U+0301", async () => {
    const normalisation = caseNamed("keys that differ only in Unicode normalisation");
    await expect(normalisation.run(keyChangingProvider((key) => key.normalize("NFC")))).rejects.toThrow(/^tryLoad\["é","w-keys-[^"]+"\] must return the snapshot saved under exactly those keys/);
  });

  it("a store that cuts keys at 255 characters, which merges two long keys", async () => {
    const long = caseNamed("keys of 4,000 characters");
    await expect(long.run(keyChangingProvider((key) => key.slice(0, 255)))).rejects.toThrow(/^tryLoad\["k{40}","w-keys-[^"]+"\] must return the snapshot saved under exactly those keys/);
  });

  it("a store that URL-decodes keys, which merges %2F and /", async () => {
    const paths = caseNamed("keys of path and escape syntax");
    const decode = (key: string): string => {
      try {
        return decodeURIComponent(key);
      } catch {
        return key;
      }
    };
    await expect(paths.run(keyChangingProvider(decode))).rejects.toThrow(/^tryLoad\["\/","w-keys-[^"]+"\] must return the snapshot saved under exactly those keys/);
  });

  it("a store whose keys ignore ASCII case, as a _ci collation or the file system of macOS or Windows, naming both keys", async () => {
    expect(await keyFailures(() => comparingProvider(asciiLower, false))).toEqual([
      expect.stringMatching(
        /^keys that differ only in ASCII case[^:]*: AssertionError \[ERR_ASSERTION\]: tryLoad\["order-42","w-keys-[^"]+"\] must return the snapshot saved under exactly those keys, but returned the snapshot saved under \["ORDER-42","w-keys-[^"]+"\]: the store keeps the two pairs of keys as one record/,
      ),
    ]);
  });

  it("a compare-and-set store whose keys ignore ASCII case: it refuses the first save of the second key, and the failure names the first", async () => {
    // The stored record keeps the keys it was saved under; the store finds it by their lower case.
    expect(await keyFailures(() => comparingProvider(asciiLower, true))).toEqual([
      expect.stringMatching(
        /^keys that differ only in ASCII case[^:]*: AssertionError \[ERR_ASSERTION\]: save\["Order-42","w-keys-[^"]+"\] of a first revision was refused \(SnapshotConflictError: [^\n]*\), and tryLoad of those keys returns the snapshot saved under \["order-42","w-keys-[^"]+"\]/,
      ),
    ]);
  });

  it("a store that ignores trailing spaces in keys, as SQL Server and PAD SPACE collations compare them", async () => {
    expect(await keyFailures(() => comparingProvider((key) => key.replace(/ +$/, ""), false))).toEqual([
      expect.stringMatching(
        /^keys that differ only in ASCII case[^:]*: AssertionError \[ERR_ASSERTION\]: tryLoad\["a","w-keys-[^"]+"\] must return the snapshot saved under exactly those keys, but returned the snapshot saved under \["a ","w-keys-[^"]+"\]/,
      ),
    ]);
  });

  it("a list() that does not apply a workflowId filter holding an odd key as the key it is", async () => {
    const memory = new MemoryPersistenceProvider();
    const provider: WorkflowPersistenceProvider = {
      capabilities: memory.capabilities,
      save: (snapshot) => memory.save(snapshot),
      tryLoad: (instance, workflow) => memory.tryLoad(instance, workflow),
      delete: (instance, workflow) => memory.delete(instance, workflow),
      list: (filter) => memory.list(filter?.workflowId === undefined ? filter : { ...filter, workflowId: utf8(filter.workflowId) }),
    };
    await expect(caseNamed("keys holding lone surrogates").run(provider)).rejects.toThrow(/^list\(\{ workflowId: "a\\ud800" \}\) must return exactly its one snapshot/);
  });

  it("and passes every key case on the memory provider", async () => {
    for (const testCase of conformanceCases.filter((candidate) => candidate.group === "keys")) await testCase.run(new MemoryPersistenceProvider());
  });
});
