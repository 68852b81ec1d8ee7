import { describe, expect, it } from "vitest";
import { defaultSnapshotCodec, MemoryPersistenceProvider, SnapshotSerializationError, type ClaimRequest, type DeliveredEvent, type SnapshotCodec, type WorkflowExecutionSnapshot } from "../../src/persistence/index.js";
import { opNames } from "../support/counted-workflow.js";
import { deferred, rejectionOf } from "../support/promises.js";
import { snapshotFor, uniqueKeys } from "../support/run-snapshots.js";

// What the conformance kit cannot see of the memory provider's mailbox: what it decodes, how it
// refuses a payload, and whose listeners it tells.

const at = (ms: number) => new Date(ms).toISOString();

function waiting(overrides: Partial<WorkflowExecutionSnapshot> = {}): WorkflowExecutionSnapshot {
  return snapshotFor(uniqueKeys("memory-mailbox"), opNames(3), { nextOperationIndex: 1, status: "waiting", waitingFor: "approved", ...overrides });
}

const event = (snapshot: WorkflowExecutionSnapshot, overrides: Partial<DeliveredEvent> = {}): DeliveredEvent => ({
  foundryExecutionId: snapshot.foundryExecutionId,
  workflowId: snapshot.workflowId,
  name: "approved",
  eventId: "mail-1",
  payload: { by: "ann" },
  sentAt: at(0),
  ...overrides,
});

const request = (now: number): ClaimRequest => ({ owner: "worker", now: at(now), leaseExpiresAt: at(now + 30_000), limit: 100, maxAttempts: 3 });

describe("MemoryPersistenceProvider's mailbox", () => {
  it("claim() passes over waiting records that are not due without decoding them, and decodes the due one", async () => {
    let decodes = 0;
    const codec: SnapshotCodec = { encode: (snapshot) => defaultSnapshotCodec.encode(snapshot), decode: (text, keys) => (decodes++, defaultSnapshotCodec.decode(text, keys)) };
    const provider = new MemoryPersistenceProvider({ codec });
    const now = Date.now();
    for (let index = 0; index < 100; index++) provider.save(waiting({ wakeAt: at(now + 60_000 + index) }));
    for (let index = 0; index < 100; index++) provider.save(waiting());
    const due = waiting({ wakeAt: at(now - 1) });
    provider.save(due);

    const claimed = await provider.claim(request(now));

    expect(claimed.map((snapshot) => snapshot.foundryExecutionId)).toEqual([due.foundryExecutionId]);
    expect(decodes).toBe(1);
  });

  it("refuses a payload the codec cannot store with SnapshotSerializationError naming its path, storing nothing", async () => {
    const provider = new MemoryPersistenceProvider();
    const stored = waiting();
    provider.save(stored);

    const error = await rejectionOf(provider.deliver(event(stored, { payload: { order: { callback: () => 1 } } })));

    expect(error).toBeInstanceOf(SnapshotSerializationError);
    expect((error as SnapshotSerializationError).message).toContain("payload.order.callback");
    expect(await provider.receive(stored, "approved")).toEqual([]);
    expect(await provider.claim(request(Date.now()))).toEqual([]);
  });

  it("with live: true keeps payloads as copies: a Date stays a Date, a function is refused as unserialisable, a change after deliver is not seen", async () => {
    const provider = new MemoryPersistenceProvider({ live: true });
    const stored = waiting();
    const payload = { when: new Date(0), lines: [1] };
    await provider.deliver(event(stored, { payload }));
    payload.lines.push(2);

    expect((await provider.receive(stored, "approved"))[0]?.payload).toEqual({ when: new Date(0), lines: [1] });
    await expect(provider.deliver(event(stored, { eventId: "mail-2", payload: () => 1 }))).rejects.toMatchObject({ code: "SNAPSHOT_SERIALIZATION", path: "payload" });
    expect(await provider.receive(stored, "approved")).toHaveLength(1);
  });

  it("tells only its own listeners, and a listener that throws neither fails the delivery nor keeps the others from being told", async () => {
    const provider = new MemoryPersistenceProvider();
    const other = new MemoryPersistenceProvider();
    const told = deferred();
    let otherCalls = 0;
    await provider.subscribe(() => {
      throw new Error("listener failed");
    });
    await provider.subscribe(() => told.resolve());
    await other.subscribe(() => otherCalls++);
    const stored = waiting();
    provider.save(stored);

    await expect(provider.deliver(event(stored))).resolves.toBe(true);
    await told.promise;
    expect(otherCalls).toBe(0);
  });

  it("calls no listener for a delivery that marks nothing: a duplicate, or an event nothing waits for", async () => {
    const provider = new MemoryPersistenceProvider();
    let calls = 0;
    await provider.subscribe(() => calls++);
    const stored = waiting();
    provider.save(stored);
    await provider.deliver(event(stored, { name: "rejected" }));
    await provider.deliver(event(stored, { eventId: "mail-2" }));
    await provider.deliver(event(stored, { eventId: "mail-3" }));
    const after = deferred();
    queueMicrotask(() => queueMicrotask(() => after.resolve()));
    await after.promise;

    expect(calls).toBe(1);
  });

  it("subscribe() with a listener that is not a function rejects with a TypeError naming it", async () => {
    await expect(new MemoryPersistenceProvider().subscribe("hello" as never)).rejects.toThrow(new TypeError('MemoryPersistenceProvider.subscribe(listener): listener must be a function, got "hello"'));
  });

  it("delete() of an instance with events but no record clears them without changing size", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = waiting();
    await provider.deliver(event(keys));
    provider.delete(keys.foundryExecutionId, keys.workflowId);

    expect(await provider.receive(keys, "approved")).toEqual([]);
    expect(provider.size).toBe(0);
  });
});
