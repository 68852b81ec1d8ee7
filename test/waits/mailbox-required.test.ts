import { describe, expect, it } from "vitest";
import { createFoundry, createSmith } from "../../src/index.js";
import { MemoryPersistenceProvider, usePersistence, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { approvalWorkflow } from "./helpers.js";

// The three-method provider of docs/writing-a-provider.md: it keeps snapshots, and no events.
function threeMethods(): WorkflowPersistenceProvider {
  const memory = new MemoryPersistenceProvider();
  return { capabilities: { compareAndSet: true }, save: (s) => memory.save(s), tryLoad: (i, w) => memory.tryLoad(i, w), delete: (i, w) => memory.delete(i, w) };
}

describe("a workflow that waits for an event, on a provider without a mailbox", () => {
  it("fails before its first operation runs, naming the wait: nothing ran, so nothing is undone", async () => {
    const ran: string[] = [];
    const error = await createSmith()
      .forge(approvalWorkflow(ran), usePersistence(createFoundry("approval"), threeMethods(), { instanceId: "expense-1" }))
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "OPERATION_FAILED", operationIndex: 0 });
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect(((error as Error).cause as Error).message).toBe('waitForEvent "approval" of approval: the persistence provider does not declare capabilities.mailbox, so no event could reach this wait');
    expect(ran).toEqual([]);
  });

  it("refuses at usePersistence a provider that declares the mailbox without receive()", () => {
    const declared = { ...threeMethods(), capabilities: { compareAndSet: true, mailbox: true }, deliver: () => Promise.resolve(true) };
    expect(() => usePersistence(createFoundry("approval"), declared, { instanceId: "expense-1" })).toThrow(
      "usePersistence(foundry, provider, options): provider declares capabilities.mailbox but has no receive() method",
    );
  });

  it("stores nothing for a leased run: it is refused before its claim is written", async () => {
    const provider = threeMethods();
    const error = await createSmith()
      .forge(approvalWorkflow([]), usePersistence(createFoundry("approval"), provider, { instanceId: "expense-2", lease: { ttlMs: 30_000 } }))
      .catch((caught: unknown) => caught);
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect(await provider.tryLoad("expense-2", "approval")).toBeUndefined();
  });
});

describe("a workflow that waits for an event, without persistence", () => {
  it("fails before its first operation runs, naming the wait and what it needs: nothing ran, so nothing is undone", async () => {
    const ran: string[] = [];
    const error = await createSmith()
      .forge(approvalWorkflow(ran), createFoundry("approval"))
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "OPERATION_FAILED", operationIndex: 0 });
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect(((error as Error).cause as Error).message).toBe('waitForEvent "approval" of approval needs usePersistence with a provider that declares capabilities.mailbox');
    expect(ran).toEqual([]);
  });
});
