import { describe, expect, it } from "vitest";
import { MemoryPersistenceProvider, type DeliveredEvent, type WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { conformanceCases, runConformanceCase } from "../../../src/persistence/testing/index.js";

describe("the conformance kit on a user's store", () => {
  it("leaves it as it found it: every case deletes the records it saved, and with them the events it delivered", { timeout: 60_000 }, async () => {
    const store = new MemoryPersistenceProvider();
    const delivered: DeliveredEvent[] = [];
    // Provider objects on the one store, which note every event delivered through them.
    const open = (): WorkflowPersistenceProvider => ({
      capabilities: store.capabilities,
      save: (snapshot, signal) => store.save(snapshot, signal),
      tryLoad: (instance, workflow, signal) => store.tryLoad(instance, workflow, signal),
      delete: (instance, workflow, signal) => store.delete(instance, workflow, signal),
      list: (filter, signal, options) => store.list(filter, signal, options),
      claim: (request, signal, options) => store.claim(request, signal, options),
      deliver: (event, signal) => {
        delivered.push(event);
        return store.deliver(event, signal);
      },
      receive: (keys, name, signal) => store.receive(keys, name, signal),
      subscribe: (listener, signal) => store.subscribe(listener, signal),
    });
    const initializer = { name: "MemoryPersistenceProvider", create: open, reopen: open };

    for (const testCase of conformanceCases) await runConformanceCase(initializer, testCase);

    expect((await store.list()).map((snapshot) => [snapshot.workflowName, snapshot.status])).toEqual([]);
    expect(delivered.length).toBeGreaterThan(100);
    const left = [];
    for (const event of delivered) left.push(...(await store.receive(event, event.name)));
    expect(left).toEqual([]);
  });
});
