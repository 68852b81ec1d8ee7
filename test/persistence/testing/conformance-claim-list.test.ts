import { describe, expect, it } from "vitest";
import { MemoryPersistenceProvider, type WorkflowExecutionSnapshot, type WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { conformanceCases, runConformanceCase } from "../../../src/persistence/testing/index.js";

// The claim case reading a claimed record back: list() may be an async iterable, as the contract
// allows, and a provider without list() (the claim group does not need it) is still checked
// through tryLoad().

const readBack = conformanceCases.find((testCase) => testCase.group === "claim" && /tryLoad\(\) reads a record as its claim left it/.test(testCase.name));

/** A correct claim provider whose list() is an async iterable rather than a promised array. */
function iterableListProvider(): WorkflowPersistenceProvider {
  const memory = new MemoryPersistenceProvider();
  return {
    capabilities: { compareAndSet: true, list: true, claim: true },
    save: (snapshot, signal) => memory.save(snapshot, signal),
    tryLoad: (instance, workflow, signal) => memory.tryLoad(instance, workflow, signal),
    delete: (instance, workflow, signal) => memory.delete(instance, workflow, signal),
    claim: (request, signal) => memory.claim(request, signal),
    list: async function* (filter, signal) {
      yield* await memory.list(filter, signal);
    },
  };
}

/** Declares claim but not list, and claim() resolves the claimed records without storing them. */
function unstoredClaimProvider(): WorkflowPersistenceProvider {
  const memory = new MemoryPersistenceProvider();
  return {
    capabilities: { compareAndSet: true, claim: true },
    save: (snapshot, signal) => memory.save(snapshot, signal),
    tryLoad: (instance, workflow, signal) => memory.tryLoad(instance, workflow, signal),
    delete: (instance, workflow, signal) => memory.delete(instance, workflow, signal),
    claim: async (request): Promise<WorkflowExecutionSnapshot[]> => {
      const stored = await memory.list(request.filter);
      return stored.map((snapshot) => ({ ...snapshot, revision: snapshot.revision + 1, owner: request.owner, leaseExpiresAt: request.leaseExpiresAt, updatedAt: request.now, attempts: (snapshot.attempts ?? 0) + 1 }));
    },
  };
}

describe("the claim case reading a claimed record back", () => {
  it("passes a correct provider whose list() is an async iterable", async () => {
    expect(readBack).toBeDefined();
    await expect(runConformanceCase({ name: "iterable list", create: iterableListProvider }, readBack!)).resolves.toBe("passed");
  });

  it("checks tryLoad() of a provider without list(): a claim that was not stored fails it", async () => {
    expect(readBack).toBeDefined();
    await expect(runConformanceCase({ name: "unstored claim", create: unstoredClaimProvider }, readBack!)).rejects.toThrow(/tryLoad\(\) must read the claim's revision/);
  });

  it("passes a correct provider without list()", async () => {
    const memory = new MemoryPersistenceProvider();
    const create = (): WorkflowPersistenceProvider => ({
      capabilities: { compareAndSet: true, claim: true },
      save: (snapshot, signal) => memory.save(snapshot, signal),
      tryLoad: (instance, workflow, signal) => memory.tryLoad(instance, workflow, signal),
      delete: (instance, workflow, signal) => memory.delete(instance, workflow, signal),
      claim: (request, signal) => memory.claim(request, signal),
    });
    await expect(runConformanceCase({ name: "no list", create }, readBack!)).resolves.toBe("passed");
  });
});
