import { describe, expect, it } from "vitest";
import { MemoryPersistenceProvider, type DeliveredEvent, type WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { conformanceCases, type ConformanceCase } from "../../../src/persistence/testing/index.js";

// Mailboxes a user could plausibly write, each wrong in one way the kit must catch: the bugs
// durable waits are known for (duplicate deliveries, lost wake-ups, listeners that outlive stop).

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function caseNamed(group: string, start: string): ConformanceCase {
  const found = conformanceCases.find((testCase) => testCase.group === group && testCase.name.startsWith(start));
  if (found === undefined) throw new Error(`no ${group} case named "${start}…"`);
  return found;
}

const noHooks = { corrupt: () => Promise.reject(new Error("not used")), reopen: () => Promise.reject(new Error("not used")) };

/** The memory provider with `deliver` (and optionally `subscribe`) replaced. */
function memoryWith(inner: MemoryPersistenceProvider, overrides: Partial<WorkflowPersistenceProvider>): WorkflowPersistenceProvider {
  return {
    capabilities: inner.capabilities,
    save: (snapshot) => inner.save(snapshot),
    tryLoad: (instance, workflow) => inner.tryLoad(instance, workflow),
    delete: (instance, workflow) => inner.delete(instance, workflow),
    claim: (request) => inner.claim(request),
    deliver: (event) => inner.deliver(event),
    receive: (keys, name) => inner.receive(keys, name),
    subscribe: (listener) => inner.subscribe(listener),
    ...overrides,
  };
}

/** Looks for a duplicate, then stores in a second step: deliveries made at once all pass the check. */
function checkThenInsertMailbox(): WorkflowPersistenceProvider {
  const inner = new MemoryPersistenceProvider();
  const events: DeliveredEvent[] = [];
  return memoryWith(inner, {
    deliver: async (event) => {
      if (events.some((stored) => stored.eventId === event.eventId && stored.foundryExecutionId === event.foundryExecutionId)) return false;
      await turn();
      events.push(event);
      return true;
    },
    receive: (keys, name) => Promise.resolve(events.filter((event) => event.foundryExecutionId === keys.foundryExecutionId && event.name === name)),
  });
}

/**
 * Reads whether the record waits for the event, then stores the event and marks the record in a
 * second step: a waiting save between the two is missed by both the mark and the run's re-read.
 * Events are kept under a name of their own, so that storing one never marks anything itself.
 */
function readThenMarkMailbox(): WorkflowPersistenceProvider {
  const inner = new MemoryPersistenceProvider();
  const kept = (name: string) => `kept:${name}`;
  return memoryWith(inner, {
    deliver: async (event) => {
      const record = inner.tryLoad(event.foundryExecutionId, event.workflowId);
      const waits = record?.status === "waiting" && record.waitingFor === event.name;
      await turn();
      const stored = await inner.deliver({ ...event, name: kept(event.name) });
      // A delivery of the real name to a record waiting for it is how the memory provider marks it.
      if (stored && waits) await inner.deliver({ ...event, eventId: `mark:${event.eventId}` });
      return stored;
    },
    receive: async (keys, name) => (await inner.receive(keys, kept(name))).map((event) => ({ ...event, name })),
  });
}

/** Its stop() resolves but leaves the listener subscribed. */
function stopThatKeepsListening(): WorkflowPersistenceProvider {
  const inner = new MemoryPersistenceProvider();
  return memoryWith(inner, {
    subscribe: async (listener) => {
      await inner.subscribe(listener);
      return () => Promise.resolve();
    },
  });
}

describe("the conformance kit catches", () => {
  it("a mailbox that checks for a duplicate and inserts in a second step: 20 deliveries made at once all resolve true", async () => {
    const concurrent = caseNamed("mailbox", "of 20 concurrent deliveries of one eventId");
    await expect(concurrent.run(checkThenInsertMailbox(), noHooks)).rejects.toThrow("exactly one of 20 deliveries of one eventId must resolve true, got 20");
  });

  it("a delivery that reads the record's status before it writes: the race with the waiting save loses a wake-up", async () => {
    const race = caseNamed("due", "a delivery racing the waiting save is never lost");
    await expect(race.run(readThenMarkMailbox(), noHooks)).rejects.toThrow(/^trial \d+: a lost wake-up/);
  });

  it("a stop() that resolves before the listener is gone: a later delivery still calls it", async () => {
    const stop = caseNamed("push", "once stop() resolves the listener is not called again");
    await expect(stop.run(stopThatKeepsListening(), noHooks)).rejects.toThrow("a listener was called after its stop() resolved");
  });

  it("and passes all three on the memory provider, whose one synchronous write decides", async () => {
    const cases = [caseNamed("mailbox", "of 20 concurrent deliveries"), caseNamed("due", "a delivery racing the waiting save"), caseNamed("push", "once stop() resolves")];
    for (const testCase of cases) await testCase.run(new MemoryPersistenceProvider(), noHooks);
  });
});
