import assert from "node:assert/strict";
import type { ClaimRequest, WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import type { ConformanceCase, ConformanceGroup, ConformanceHooks } from "./cases.js";
import { deliveredEvent, fullSnapshot, nextRevision, randomKeys, waitingSnapshot } from "./fixtures.js";

// Waiting records and claim(): a timer is due at its wakeAt, an event wait when a delivery marks
// it (until its next save), and a waiting record is never a dead letter.

const at = (ms: number) => new Date(ms).toISOString();

// Each case claims only its own records, by a workflow name no other case uses.
function request(workflowName: string, now = Date.now(), overrides: Partial<ClaimRequest> = {}): ClaimRequest {
  return { owner: "claimer", now: at(now), leaseExpiresAt: at(now + 30_000), limit: 100, maxAttempts: 3, filter: { workflowName }, ...overrides };
}

const claim = (provider: WorkflowPersistenceProvider, claimRequest: ClaimRequest) => provider.claim!(claimRequest);
const ids = (snapshots: readonly WorkflowExecutionSnapshot[]): string[] => snapshots.map((snapshot) => snapshot.foundryExecutionId).sort();

export function waitCase(
  group: ConformanceGroup,
  name: string,
  run: (provider: WorkflowPersistenceProvider, workflowName: string, hooks: ConformanceHooks) => Promise<void>,
  requires?: readonly (keyof ConformanceHooks)[],
): ConformanceCase {
  return { group, name, ...(requires === undefined ? {} : { requires }), run: (provider, hooks) => run(provider, `Wait-${randomKeys().workflowId}`, hooks as ConformanceHooks) };
}

// Lets the other side of a race run for a random number of event-loop turns: an interleaving, not a wall-clock wait.
async function turns(): Promise<void> {
  for (let turn = Math.floor(Math.random() * 5); turn > 0; turn--) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * One run suspending (`saver`: its waiting save, then the session's re-read of the mailbox) while
 * an event for it is delivered (`deliverer`). Afterwards claim() takes the record, whether or not
 * the re-read saw the event: the delivery marked it, or the waiting save found the event and
 * marked itself. The run may die before its re-read, so the re-read alone does not count.
 */
async function raceTrial(saver: WorkflowPersistenceProvider, deliverer: WorkflowPersistenceProvider, caseName: string, trial: number): Promise<void> {
  // A name of its own, so that claim() sees this trial's record only.
  const workflowName = `${caseName}-${trial}`;
  const keys = randomKeys();
  const running = fullSnapshot({ ...keys, workflowName, status: "running", leaseExpiresAt: at(Date.now() + 60_000) });
  await saver.save(running);
  const event = deliveredEvent(keys);
  const suspend = async () => {
    await turns();
    await saver.save(waitingSnapshot({ ...keys, workflowName, revision: 2, waitingFor: event.name }));
    return (await saver.receive!(keys, event.name)).length === 1;
  };
  const send = async () => {
    await turns();
    return deliverer.deliver!(event);
  };
  const [seen, stored] = await Promise.all([suspend(), send()]);
  assert.equal(stored, true, `trial ${trial}: the delivery was not stored`);
  const claimed = await claim(saver, request(workflowName));
  const lost = seen ? "only the re-read after the waiting save saw the event (a run that died before it would never wake)" : "neither the re-read after the waiting save saw the event";
  assert.ok(claimed.length === 1, `trial ${trial}: a lost wake-up: ${lost}, and claim() did not take the record the delivery or the waiting save should have marked due`);
}

export const timerCases: ConformanceCase[] = [
  waitCase("timers", "claim() takes a waiting record once request.now reaches its wakeAt, keeps it waiting, and again only once the claim's lease ends", async (provider, workflowName) => {
    // An hour ahead: a claim's lease must not have ended by the store's clock when it runs.
    const wake = Date.now() + 3_600_000;
    const sleeping = waitingSnapshot({ workflowName, wakeAt: at(wake) });
    await provider.save(sleeping);
    assert.deepEqual(await claim(provider, request(workflowName, wake - 1)), [], "a record was claimed 1 ms before its wakeAt");
    const claimRequest = request(workflowName, wake);
    const expected = { ...sleeping, revision: 2, owner: "claimer", leaseExpiresAt: claimRequest.leaseExpiresAt, updatedAt: claimRequest.now, attempts: 1 };
    assert.deepEqual(await claim(provider, claimRequest), [expected], "claim() at its wakeAt takes it, still waiting");
    assert.deepEqual(await provider.tryLoad(sleeping.foundryExecutionId, sleeping.workflowId), expected);
    assert.deepEqual(await claim(provider, request(workflowName, wake + 1)), [], "a due record under a live lease was claimed again");
    // The claimant died before its next save: its timer is still due.
    assert.deepEqual(ids(await claim(provider, request(workflowName, wake + 30_000))), [sleeping.foundryExecutionId], "a due record whose claim's lease ended must be claimed again");
  }),
  waitCase("timers", "a waiting record that is not due is never claimed, and one due record is found among many that are not, even with limit 1", async (provider, workflowName) => {
    const now = Date.now();
    const notDue = [
      ...Array.from({ length: 10 }, (_, index) => waitingSnapshot({ workflowName, wakeAt: at(now + 60_000 + index) })),
      waitingSnapshot({ workflowName, waitingFor: "approved" }),
      waitingSnapshot({ workflowName, waitingFor: "approved", wakeAt: at(now + 60_000) }),
    ];
    for (const snapshot of notDue) await provider.save(snapshot);
    for (let pass = 0; pass < 3; pass++) assert.deepEqual(await claim(provider, request(workflowName, now)), [], "claim() took a waiting record before it was due");
    const due = waitingSnapshot({ workflowName, waitingFor: "approved", wakeAt: at(now - 1) });
    await provider.save(due);
    assert.deepEqual(ids(await claim(provider, request(workflowName, now, { limit: 1 }))), [due.foundryExecutionId], "the one due record must be claimed");
  }),
  waitCase("timers", "claim()'s status filter narrows waiting records like any status, and waiting is among the default statuses", async (provider, workflowName) => {
    const due = waitingSnapshot({ workflowName, wakeAt: at(Date.now() - 1_000) });
    const running: Record<string, unknown> = { ...fullSnapshot({ workflowName, status: "running" }) };
    delete running.leaseExpiresAt;
    await provider.save(due);
    await provider.save(running as unknown as WorkflowExecutionSnapshot);
    const now = Date.now();
    assert.deepEqual(ids(await claim(provider, request(workflowName, now, { filter: { workflowName, status: "running" } }))), [running.foundryExecutionId], "claim({ status: running })");
    assert.deepEqual(await claim(provider, request(workflowName, now, { filter: { workflowName, status: ["running", "failed"] } })), [], "claim({ status: [running, failed] }) took a waiting record");
    assert.deepEqual(ids(await claim(provider, request(workflowName, now))), [due.foundryExecutionId], "claim() without a status must take the due waiting record");
  }),
  waitCase("timers", "waiting records never dead-letter: a due one is claimed whatever its attempts", async (provider, workflowName) => {
    const now = Date.now();
    const due = waitingSnapshot({ workflowName, wakeAt: at(now - 1_000), attempts: 7 });
    const deadLetter: Record<string, unknown> = { ...fullSnapshot({ workflowName, status: "failed", attempts: 3 }) };
    delete deadLetter.leaseExpiresAt;
    await provider.save(due);
    await provider.save(deadLetter as unknown as WorkflowExecutionSnapshot);
    const claimed = await claim(provider, request(workflowName, now, { maxAttempts: 3 }));
    assert.deepEqual(ids(claimed), [due.foundryExecutionId]);
    assert.equal(claimed[0]?.attempts, 8);
  }),
];

export const dueCases: ConformanceCase[] = [
  waitCase("due", "a delivery of the event a record waits for marks it due: claim() takes it at once, still waiting", async (provider, workflowName) => {
    const waiting = waitingSnapshot({ workflowName, waitingFor: "approved", wakeAt: at(Date.now() + 86_400_000) });
    await provider.save(waiting);
    assert.deepEqual(await claim(provider, request(workflowName)), [], "a waiting record was claimed before any delivery");
    assert.equal(await provider.deliver!(deliveredEvent(waiting, { name: "approved" })), true);
    const claimed = await claim(provider, request(workflowName));
    assert.deepEqual(
      claimed.map((snapshot) => [snapshot.foundryExecutionId, snapshot.status, snapshot.revision, snapshot.attempts]),
      [[waiting.foundryExecutionId, "waiting", 2, 1]],
    );
    assert.deepEqual(await claim(provider, request(workflowName)), [], "a marked record under the claim's live lease was claimed again");
  }),
  waitCase("due", "a marked record whose claimant died before saving is claimed again once that claim's lease ends", async (provider, workflowName) => {
    const waiting = waitingSnapshot({ workflowName, waitingFor: "approved" });
    await provider.save(waiting);
    await provider.deliver!(deliveredEvent(waiting));
    const now = Date.now();
    assert.equal((await claim(provider, request(workflowName, now))).length, 1);
    assert.deepEqual(await claim(provider, request(workflowName, now + 29_999)), [], "a record under a live lease was claimed");
    const again = await claim(provider, request(workflowName, now + 30_000));
    assert.deepEqual(
      again.map((snapshot) => [snapshot.foundryExecutionId, snapshot.status, snapshot.attempts]),
      [[waiting.foundryExecutionId, "waiting", 2]],
      "a claim is not a save: the delivery's mark outlives it, or the run would wait forever",
    );
  }),
  waitCase("due", "a delivery marks nothing else: not a wait for another name, nor a record under a live lease, cancelled, completed or a dead letter", async (provider, workflowName) => {
    const live = at(Date.now() + 60_000);
    const records = [
      waitingSnapshot({ workflowName, waitingFor: "rejected" }),
      fullSnapshot({ workflowName, status: "running", leaseExpiresAt: live }),
      waitingSnapshot({ workflowName, waitingFor: "approved", leaseExpiresAt: live, owner: "another worker" }),
      waitingSnapshot({ workflowName, status: "cancelled", waitingFor: "approved" }),
      waitingSnapshot({ workflowName, status: "completed", waitingFor: "approved" }),
      waitingSnapshot({ workflowName, status: "failed", waitingFor: "approved", attempts: 3 }),
    ];
    for (const snapshot of records) await provider.save(snapshot);
    for (const snapshot of records) assert.equal(await provider.deliver!(deliveredEvent(snapshot, { name: "approved" })), true);
    assert.deepEqual(await claim(provider, request(workflowName)), []);
  }),
  waitCase("due", "a save clears a delivery's mark once its wait consumed the event: the record is then due by its own wakeAt only", async (provider, workflowName) => {
    const waiting = waitingSnapshot({ workflowName, waitingFor: "approved" });
    await provider.save(waiting);
    const event = deliveredEvent(waiting);
    await provider.deliver!(event);
    // The run took the event and waits again for the next one.
    const saved = nextRevision(waiting, { consumedEvents: [event.eventId] });
    await provider.save(saved);
    assert.deepEqual(await claim(provider, request(workflowName)), [], "a waiting save left a delivery's mark though its wait had consumed the event");
    await provider.save(nextRevision(saved, { wakeAt: at(Date.now() - 1) }));
    assert.deepEqual(ids(await claim(provider, request(workflowName))), [waiting.foundryExecutionId], "a save's wakeAt in the past makes it due");
  }),
  waitCase("due", "a waiting save is due at once when its mailbox already holds an event the wait has not consumed: delivered before the first save, while it ran, or while it saved", async (provider, workflowName) => {
    // Delivered before the instance had a record: its first save is the waiting one.
    const early = randomKeys();
    await provider.deliver!(deliveredEvent(early));
    await provider.save(waitingSnapshot({ ...early, workflowName, waitingFor: "approved" }));
    // Delivered while it ran, so that the delivery found nothing waiting to mark.
    const running = fullSnapshot({ workflowName, status: "running", leaseExpiresAt: at(Date.now() + 60_000) });
    await provider.save(running);
    await provider.deliver!(deliveredEvent(running));
    const { foundryExecutionId, workflowId } = running;
    await provider.save(waitingSnapshot({ foundryExecutionId, workflowId, workflowName, revision: 2, waitingFor: "approved" }));
    // Consumed before: only the second event of the name makes the wait due.
    const again = waitingSnapshot({ workflowName, waitingFor: "approved" });
    const [first, second] = [deliveredEvent(again), deliveredEvent(again)];
    await provider.save(again);
    await provider.deliver!(first);
    const consumed = nextRevision(again, { consumedEvents: [first.eventId] });
    await provider.save(consumed);
    assert.deepEqual(ids(await claim(provider, request(workflowName))), [early.foundryExecutionId, running.foundryExecutionId].sort(), "the run that saved may die before its re-read of the mailbox: the save must store what the delivery would have marked");
    await provider.deliver!(deliveredEvent(again, { name: "rejected" }));
    await provider.save(nextRevision(consumed));
    // An event of another name delivered while a run ran, before it reached its wait.
    const busy = fullSnapshot({ workflowName, status: "running", leaseExpiresAt: at(Date.now() + 60_000) });
    await provider.save(busy);
    await provider.deliver!(deliveredEvent(busy, { name: "rejected" }));
    await provider.save(waitingSnapshot({ foundryExecutionId: busy.foundryExecutionId, workflowId: busy.workflowId, workflowName, revision: 2, waitingFor: "approved" }));
    assert.deepEqual(await claim(provider, request(workflowName)), [], "an event of another name, or one the wait consumed, made a waiting save due");
    await provider.deliver!(second);
    assert.deepEqual(ids(await claim(provider, request(workflowName))), [again.foundryExecutionId], "a delivery after the save marks it as before");
  }),
  waitCase("due", "of 5 deliveries of one event made at once with 3 claims, the waiting record is claimed exactly once", async (provider, workflowName) => {
    for (let round = 0; round < 10; round++) {
      const waiting = waitingSnapshot({ workflowName, waitingFor: "approved" });
      await provider.save(waiting);
      const event = deliveredEvent(waiting, { eventId: `mail-${round}` });
      const calls = [0, 1, 2, 3, 4].map(async (sender) => [await provider.deliver!({ ...event, payload: { sender } })]);
      const claims = [0, 1, 2].map(async () => claim(provider, request(workflowName)));
      const results = await Promise.all([...calls, ...claims, Promise.all(calls).then(async () => claim(provider, request(workflowName)))]);
      assert.equal(results.slice(0, 5).flat().filter((stored) => stored === true).length, 1, `round ${round}: exactly one delivery is stored`);
      assert.deepEqual(ids(results.slice(5).flat() as WorkflowExecutionSnapshot[]), [waiting.foundryExecutionId], `round ${round}: the record must be claimed exactly once`);
    }
  }),
  waitCase("due", "a delivery racing the waiting save is never lost: claim() takes the record however the two land (200 trials)", async (provider, workflowName) => {
    for (let trial = 0; trial < 200; trial++) await raceTrial(provider, provider, workflowName, trial);
  }),
  waitCase(
    "due",
    "a delivery through a second provider object racing the waiting save is never lost (200 trials)",
    async (provider, workflowName, hooks) => {
      const other = await hooks.reopen();
      for (let trial = 0; trial < 200; trial++) await raceTrial(provider, other, workflowName, trial);
    },
    ["reopen"],
  ),
];
