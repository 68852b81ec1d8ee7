import { describe, expect, it } from "vitest";
import { action, createFoundry, createSmith, createWorkflow, isSuspended, waitForEvent, type OperationContext, type OperationMiddleware, type RunContext, type RunStart } from "../../src/index.js";
import { MemoryPersistenceProvider, signalInstance, usePersistence, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
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

  // A run that will not reach the wait needs no host for it: only what is left to run is checked.
  const startsWith = (start: (run: RunContext) => void): OperationMiddleware => Object.assign((_context: OperationContext, next: () => Promise<unknown>) => next(), { start: ({ run }: RunStart) => start(run) });

  it("runs what an extension resumes past the wait, and a compensation it resumes, without persistence", async () => {
    const ran: string[] = [];
    const resumed = createFoundry("approval").use(startsWith((run) => run.resumeAt(2, { lastOutput: "ann" })));
    await createSmith().forge(approvalWorkflow(ran), resumed);
    expect(ran).toEqual(["charge ann"]);

    const workflow = createWorkflow("approval").addOperation(action("reserve", () => undefined, () => void ran.push("release"))).addOperation(waitForEvent("approval", "approved")).build();
    const compensating = createFoundry("approval").use(startsWith((run) => run.resumeCompensation(1, new Error("declined"))));
    await expect(createSmith().forge(workflow, compensating)).rejects.toThrow("declined");
    expect(ran).toEqual(["charge ann", "release"]);
  });
});

describe("a completed instance kept with its result, whose workflow waits for an event", () => {
  it("resolves with the stored result again (rerunCompleted: false): nothing runs, so nothing waits", async () => {
    const provider = new MemoryPersistenceProvider();
    const ran: string[] = [];
    const options = { instanceId: "expense-3", onComplete: "keep", rerunCompleted: false } as const;
    const start = () => createSmith().forge(approvalWorkflow(ran), usePersistence(createFoundry("approval"), provider, options));
    expect(isSuspended(await start().catch((error: unknown) => error))).toBe(true);
    await signalInstance(provider, { instanceId: "expense-3", workflowKey: "approval" }, "approved", "ann");
    await start();
    expect(ran).toEqual(["reserve", "charge ann"]);

    await start();
    expect(ran).toEqual(["reserve", "charge ann"]);
    expect(provider.tryLoad("expense-3", "approval")).toMatchObject({ status: "completed" });
  });
});
