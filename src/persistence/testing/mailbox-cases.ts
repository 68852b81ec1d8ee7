import assert from "node:assert/strict";
import type { SnapshotKeys } from "../errors.js";
import type { DeliveredEvent } from "../mailbox.js";
import type { WorkflowPersistenceProvider } from "../provider.js";
import type { ConformanceCase, ConformanceHooks } from "./cases.js";
import { deliveredEvent, fullSnapshot, randomKeys, richValues, waitingSnapshot } from "./fixtures.js";

// The event mailbox (capability `mailbox`): deliver() stores an event at most once per instance
// and eventId, whoever delivers it; receive() reads an instance's events of one name back in the
// order they were first delivered.

const deliver = (provider: WorkflowPersistenceProvider, event: DeliveredEvent) => provider.deliver!(event);
const receive = (provider: WorkflowPersistenceProvider, keys: SnapshotKeys, name = "approved") => provider.receive!(keys, name);
// A thunk, so that a provider that throws synchronously is seen to reject too.
const outcome = (call: () => unknown): Promise<boolean> =>
  Promise.resolve()
    .then(call)
    .then(
      () => true,
      () => false,
    );

function mailboxCase(name: string, run: (provider: WorkflowPersistenceProvider, hooks: ConformanceHooks) => Promise<void>, requires?: readonly (keyof ConformanceHooks)[]): ConformanceCase {
  return { group: "mailbox", name, ...(requires === undefined ? {} : { requires }), run: (provider, hooks) => run(provider, hooks as ConformanceHooks) };
}

// Every one of `calls` delivers a copy of `event` with its own payload: exactly one must store it.
async function assertOneStored(calls: readonly Promise<boolean>[], events: readonly DeliveredEvent[], stored: () => Promise<DeliveredEvent[]>): Promise<void> {
  const results = await Promise.all(calls);
  const winners = results.flatMap((result, index) => (result ? [index] : []));
  assert.equal(winners.length, 1, `exactly one of ${calls.length} deliveries of one eventId must resolve true, got ${winners.length}`);
  assert.deepEqual(await stored(), [events[winners[0] as number]], "the stored event is the one whose delivery resolved true");
}

export const mailboxCases: ConformanceCase[] = [
  mailboxCase("deliver() stores an event once per eventId: a second delivery resolves false and the first payload stays", async (provider) => {
    assert.equal(typeof provider.deliver, "function", "a provider declaring mailbox implements deliver()");
    assert.equal(typeof provider.receive, "function", "a provider declaring mailbox implements receive()");
    const keys = randomKeys();
    const first = deliveredEvent(keys, { payload: { by: "ann" } });
    assert.equal(await deliver(provider, first), true, "a first delivery resolves true");
    assert.equal(await deliver(provider, { ...first, payload: { by: "bob" }, sentAt: new Date(Date.now() + 1_000).toISOString() }), false, "a duplicate resolves false");
    assert.deepEqual(await receive(provider, keys), [first]);
  }),
  mailboxCase("of 20 concurrent deliveries of one eventId exactly one resolves true, and its payload is the one stored", async (provider) => {
    const keys = randomKeys();
    const events = Array.from({ length: 20 }, (_, sender) => deliveredEvent(keys, { eventId: "mail-123", payload: { sender } }));
    await assertOneStored(
      events.map((event) => deliver(provider, event)),
      events,
      () => receive(provider, keys),
    );
  }),
  mailboxCase(
    "first write wins across two provider objects on one store: of 20 deliveries of one eventId made at once through both, exactly one is stored",
    async (provider, hooks) => {
      const other = await hooks.reopen();
      for (let round = 0; round < 5; round++) {
        const keys = randomKeys();
        const events = Array.from({ length: 20 }, (_, sender) => deliveredEvent(keys, { eventId: `mail-${round}`, payload: { sender } }));
        await assertOneStored(
          events.map((event, sender) => deliver(sender % 2 === 0 ? provider : other, event)),
          events,
          () => receive(round % 2 === 0 ? provider : other, keys),
        );
        assert.deepEqual(await receive(provider, keys), await receive(other, keys), "both objects read the same mailbox");
      }
    },
    ["reopen"],
  ),
  mailboxCase("receive() returns one name's events in the order they were first delivered, apart from other names and instances", async (provider) => {
    const keys = randomKeys();
    const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
    // sentAt runs backwards, so a store ordering by its text returns them the wrong way round.
    const [first, other, second, third] = [
      deliveredEvent(keys, { sentAt: at(3_000) }),
      deliveredEvent(keys, { name: "rejected", sentAt: at(2_500) }),
      deliveredEvent(keys, { sentAt: at(2_000) }),
      deliveredEvent(keys, { sentAt: at(1_000) }),
    ] as [DeliveredEvent, DeliveredEvent, DeliveredEvent, DeliveredEvent];
    for (const event of [first, other, second, third]) assert.equal(await deliver(provider, event), true);
    assert.equal(await deliver(provider, { ...first, payload: "again" }), false, "a redelivery neither moves nor replaces the first");
    assert.equal(await deliver(provider, { ...first, name: "rejected" }), false, "an eventId is unique per instance, whatever the name");
    assert.deepEqual(await receive(provider, keys), [first, second, third]);
    assert.deepEqual(await receive(provider, keys, "rejected"), [other]);
    const elsewhere = randomKeys();
    assert.equal(await deliver(provider, { ...first, ...elsewhere }), true, "the same eventId is a new event for another instance");
    assert.deepEqual(await receive(provider, elsewhere), [{ ...first, ...elsewhere }]);
    assert.deepEqual(await receive(provider, keys), [first, second, third]);
  }),
  mailboxCase("receive() of an unknown instance, or of a name nothing was delivered under, resolves []", async (provider) => {
    const keys = randomKeys();
    assert.deepEqual(await receive(provider, keys), []);
    await provider.save(fullSnapshot(keys));
    await deliver(provider, deliveredEvent(keys));
    assert.deepEqual(await receive(provider, keys, "unknown"), []);
  }),
  mailboxCase("an event delivered before the instance's first save is kept: saves leave it, and receive() returns it", async (provider) => {
    const keys = randomKeys();
    const early = deliveredEvent(keys);
    assert.equal(await deliver(provider, early), true, "a delivery to an instance with no record resolves true");
    await provider.save(fullSnapshot({ ...keys, status: "running" }));
    await provider.save(waitingSnapshot({ ...keys, revision: 2, waitingFor: early.name }));
    assert.deepEqual(await receive(provider, keys), [early]);
    assert.equal(await deliver(provider, early), false, "the record's saves did not forget the event");
  }),
  mailboxCase("delete(keys) removes the instance's events, with or without a stored record; the same eventId is then stored anew", async (provider) => {
    const [withRecord, eventsOnly, untouched] = [randomKeys(), randomKeys(), randomKeys()];
    await provider.save(fullSnapshot(withRecord));
    const events = [withRecord, eventsOnly, untouched].map((keys) => deliveredEvent(keys, { eventId: "mail-1" }));
    for (const event of events) assert.equal(await deliver(provider, event), true);
    await provider.delete(withRecord.foundryExecutionId, withRecord.workflowId);
    await provider.delete(eventsOnly.foundryExecutionId, eventsOnly.workflowId);
    assert.deepEqual(await receive(provider, withRecord), [], "delete left the events of an instance with a record");
    assert.deepEqual(await receive(provider, eventsOnly), [], "delete left the events of an instance without a record");
    assert.deepEqual(await receive(provider, untouched), [events[2]], "delete removed another instance's events");
    assert.equal(await deliver(provider, events[0] as DeliveredEvent), true, "after delete, the eventId is free again");
  }),
  mailboxCase("instances sharing one key part keep their own mailboxes: one eventId is stored for each, each receives its own payload, and delete clears only its own", async (provider) => {
    // ("x", "Billing"), ("x", "Shipping") and ("y", "Billing"): a mailbox keyed by one part alone merges two of them.
    const [x, y] = [randomKeys().foundryExecutionId, randomKeys().foundryExecutionId];
    const { workflowId } = randomKeys();
    const [billing, shipping] = [`Billing-${workflowId}`, `Shipping-${workflowId}`];
    const instances: SnapshotKeys[] = [
      { foundryExecutionId: x, workflowId: billing },
      { foundryExecutionId: x, workflowId: shipping },
      { foundryExecutionId: y, workflowId: billing },
    ];
    const show = (keys: SnapshotKeys) => JSON.stringify([keys.foundryExecutionId, keys.workflowId]);
    const events = instances.map((keys) => deliveredEvent(keys, { eventId: "mail-1", payload: { for: show(keys) } }));
    for (const keys of instances) await provider.save(fullSnapshot(keys));
    for (const event of events) {
      assert.equal(await deliver(provider, event), true, `the first delivery of "mail-1" to ${show(event)} must resolve true: first write wins per instance (both keys) and eventId, and no other instance's delivery counts`);
    }
    for (const event of events) assert.equal(await deliver(provider, { ...event, payload: "again" }), false, `a second delivery of "mail-1" to ${show(event)} must resolve false`);
    for (const [index, keys] of instances.entries()) {
      assert.deepEqual(await receive(provider, keys), [events[index]], `receive${show(keys)} must return its own event only, with its own payload`);
    }
    const [deleted, ...kept] = instances as [SnapshotKeys, ...SnapshotKeys[]];
    await provider.delete(deleted.foundryExecutionId, deleted.workflowId);
    assert.deepEqual(await receive(provider, deleted), [], `delete${show(deleted)} left its events`);
    for (const keys of kept) {
      const event = events[instances.indexOf(keys)] as DeliveredEvent;
      assert.deepEqual(await receive(provider, keys), [event], `delete${show(deleted)} removed the events of ${show(keys)}, which shares one of its keys`);
      assert.equal(await deliver(provider, { ...event, payload: "again" }), false, `delete${show(deleted)} freed the eventId of ${show(keys)}`);
    }
  }),
  mailboxCase("keys, names and eventIds are opaque: separators, lone surrogates, '..' and 10,000 characters stay apart", async (provider) => {
    const id = randomKeys().foundryExecutionId;
    const long = (end: string) => "k".repeat(9_999) + end;
    const pairs: [string, string][] = [[`${id}|a`, "b"], [id, "a|b"], [`${id}\uD800`, ".."], [`${id}\uDC00`, ".."], [long("1"), `${id}`], [long("2"), `${id}`]];
    const names = ["a|b", "\uD800", "\uDC00", "..", long("n")];
    // Unique per instance whatever the name: each goes to one name, the last two differ only at their end.
    const eventIds = ["..", "a|b", "\uD800", "\uDC00", long("e1"), long("e2")];
    const delivered = pairs.map(([foundryExecutionId, workflowId]) =>
      eventIds.map((eventId, index) => deliveredEvent({ foundryExecutionId, workflowId }, { name: names[index % names.length] as string, eventId, payload: [foundryExecutionId, eventId] })),
    );
    for (const event of delivered.flat()) assert.equal(await deliver(provider, event), true, `a first delivery of ${JSON.stringify(event.eventId.slice(0, 20))}`);
    for (const [index, [foundryExecutionId, workflowId]] of pairs.entries()) {
      for (const name of names) {
        const expected = (delivered[index] as DeliveredEvent[]).filter((event) => event.name === name);
        assert.deepEqual(await receive(provider, { foundryExecutionId, workflowId }, name), expected, `${JSON.stringify([foundryExecutionId.slice(-12), workflowId, name.slice(-4)])}`);
      }
    }
  }),
  mailboxCase("payloads round-trip (Date, Map, BigInt, nested values), and changing a delivered or received payload leaves the stored one", async (provider) => {
    const keys = randomKeys();
    const payload = () => ({ ...richValues(), nested: { deep: [{ when: new Date(0), ids: new Map([[1n, ["a"]]]) }] } });
    const event = deliveredEvent(keys, { payload: payload() });
    await deliver(provider, event);
    (event.payload as { nested: { deep: unknown[] } }).nested.deep.push("changed after deliver");
    const [received] = await receive(provider, keys);
    assert.deepEqual(received, { ...event, payload: payload() });
    (received?.payload as { nested: { deep: unknown[] } }).nested.deep.push("changed after receive");
    assert.deepEqual(await receive(provider, keys), [{ ...event, payload: payload() }]);
  }),
  mailboxCase("a delivery the provider refuses (a function in the payload) writes nothing; one it accepts is stored whole", async (provider) => {
    const keys = randomKeys();
    // A provider that stores objects may keep a function; one that encodes must refuse it before writing.
    const event = deliveredEvent(keys, { payload: { ok: 1, callback: () => "not data" } });
    const stored = await outcome(() => deliver(provider, event));
    if (stored) {
      const [received] = await receive(provider, keys);
      assert.equal(typeof (received?.payload as { callback?: unknown } | undefined)?.callback, "function", "a delivery that resolved dropped part of its payload");
      return;
    }
    assert.deepEqual(await receive(provider, keys), [], "a refused delivery stored an event");
    assert.equal(await deliver(provider, { ...event, payload: { ok: 1 } }), true, "a refused delivery took its eventId");
  }),
  mailboxCase("deliver() and receive() with an aborted signal reject, and an aborted deliver() stores nothing", async (provider) => {
    const keys = randomKeys();
    const signal = AbortSignal.abort(new Error("conformance abort"));
    const event = deliveredEvent(keys);
    assert.equal(await outcome(() => provider.deliver!(event, signal)), false, "deliver() with an aborted signal resolved");
    assert.equal(await outcome(() => provider.receive!(keys, event.name, signal)), false, "receive() with an aborted signal resolved");
    assert.deepEqual(await receive(provider, keys), []);
    assert.equal(await deliver(provider, event), true);
  }),
];
