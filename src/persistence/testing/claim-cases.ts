import assert from "node:assert/strict";
import type { ClaimRequest, WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import type { ConformanceCase } from "./cases.js";
import { changeDeeply, fullSnapshot, nextRevision, randomKeys } from "./fixtures.js";

// Each case claims only its own records, by a workflow name no other case uses.
function request(workflowName: string, overrides: Partial<ClaimRequest> = {}): ClaimRequest {
  const now = Date.now();
  return { owner: "claimer", now: new Date(now).toISOString(), leaseExpiresAt: new Date(now + 30_000).toISOString(), limit: 100, maxAttempts: 3, filter: { workflowName }, ...overrides };
}

// A snapshot with no lease at all (as a released or dead-lettered record is stored).
function unleased(overrides: Partial<WorkflowExecutionSnapshot>): WorkflowExecutionSnapshot {
  const snapshot: Record<string, unknown> = { ...fullSnapshot(overrides) };
  delete snapshot.leaseExpiresAt;
  return snapshot as unknown as WorkflowExecutionSnapshot;
}

// A case of the claim group, on records of a workflow name no other case uses.
function claimCase(name: string, run: (provider: WorkflowPersistenceProvider, workflowName: string) => Promise<void>): ConformanceCase {
  return { group: "claim", name, run: (provider) => run(provider, `Claim-${randomKeys().workflowId}`) };
}

// One running record with no lease, stored.
async function savedUnleased(provider: WorkflowPersistenceProvider, workflowName: string): Promise<WorkflowExecutionSnapshot> {
  const stored = unleased({ workflowName, status: "running" });
  await provider.save(stored);
  return stored;
}

const ids = (snapshots: readonly WorkflowExecutionSnapshot[]): string[] => snapshots.map((snapshot) => snapshot.foundryExecutionId).sort();
const claim = (provider: WorkflowPersistenceProvider, claimRequest: ClaimRequest) => provider.claim!(claimRequest);

export const claimCases: ConformanceCase[] = [
  claimCase("claim() takes unfinished records under no live lease that are not dead letters (at the limit with no lease), each as the claimant's next revision", async (provider, workflowName) => {
    assert.equal(typeof provider.claim, "function", "a provider declaring claim implements claim()");
    const expired = new Date(Date.now() - 1_000).toISOString();
    const live = new Date(Date.now() + 60_000).toISOString();
    const claimable = [
      fullSnapshot({ workflowName, status: "running", leaseExpiresAt: expired, attempts: 0 }),
      fullSnapshot({ workflowName, status: "failed", leaseExpiresAt: expired, attempts: 2 }),
      unleased({ workflowName, status: "compensating", attempts: 1 }),
      // At the limit, but with the lease of a claimant that died before writing it as a dead letter.
      fullSnapshot({ workflowName, status: "compensating", leaseExpiresAt: expired, attempts: 3 }),
    ];
    const left = [
      fullSnapshot({ workflowName, status: "running", leaseExpiresAt: live }),
      unleased({ workflowName, status: "completed" }),
      unleased({ workflowName, status: "failed", attempts: 3 }),
    ];
    for (const snapshot of [...claimable, ...left]) await provider.save(snapshot);
    const claimRequest = request(workflowName);
    const claimed = await claim(provider, claimRequest);
    assert.deepEqual(ids(claimed), ids(claimable), "claim() returned the wrong records");
    for (const snapshot of claimable) {
      const expected = { ...snapshot, revision: 2, owner: "claimer", leaseExpiresAt: claimRequest.leaseExpiresAt, updatedAt: claimRequest.now, attempts: (snapshot.attempts ?? 0) + 1 };
      assert.deepEqual(claimed.find((item) => item.foundryExecutionId === snapshot.foundryExecutionId), expected, "claim() returns the record as it stored it");
      assert.deepEqual(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId), expected, "tryLoad() reads the claim back");
    }
    for (const snapshot of left) assert.equal((await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId))?.revision, 1, "a record claim() must leave was written");
    assert.deepEqual(await claim(provider, request(workflowName)), [], "a record under the claim's live lease was claimed again");
  }),
  claimCase("claim() takes only records its filter's workflowName and workflowId match, and leaves every other workflow's records as they were stored", async (provider, workflowName) => {
    const other = `${workflowName}-other`;
    const [v1, v2] = [`${workflowName}@1`, `${workflowName}@2`];
    const record = (name: string, workflowId: string) => unleased({ workflowName: name, workflowId, status: "running" });
    const [ofV1, ofV2] = [[record(workflowName, v1), record(workflowName, v1)], [record(workflowName, v2)]];
    // Another workflow's records, one under the same workflowId: a store matching the name alone, or the workflowId alone, takes one of them.
    const [otherOwn, otherUnderV1] = [record(other, `${other}@1`), record(other, v1)];
    for (const snapshot of [...ofV1, ...ofV2, otherOwn, otherUnderV1]) await provider.save(snapshot);
    const pair = (snapshot: WorkflowExecutionSnapshot) => JSON.stringify([snapshot.workflowName, snapshot.workflowId]);
    const claimOnly = async (filter: { workflowName?: string; workflowId?: string }, expected: WorkflowExecutionSnapshot[], untouched: WorkflowExecutionSnapshot[]) => {
      const claimed = await claim(provider, request(workflowName, { filter }));
      const strays = claimed.filter((snapshot) => (filter.workflowName ?? snapshot.workflowName) !== snapshot.workflowName || (filter.workflowId ?? snapshot.workflowId) !== snapshot.workflowId);
      const what = `claim({ filter: ${JSON.stringify(filter)} })`;
      const took = strays.map(pair);
      assert.deepEqual(took, [], `${what} took records of ${took.join(", ")} ([workflowName, workflowId]), which its filter does not match: a coordinator serving one workflow would run and rewrite another's`);
      assert.deepEqual(ids(claimed), ids(expected), `${what} must take every claimable record its filter matches`);
      for (const snapshot of untouched) {
        assert.deepEqual(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId), snapshot, `${what} rewrote a record of ${pair(snapshot)} it did not return: another workflow's records must stay as stored`);
      }
    };
    await claimOnly({ workflowName, workflowId: v1 }, ofV1, [...ofV2, otherOwn, otherUnderV1]);
    await claimOnly({ workflowName }, ofV2, [otherOwn, otherUnderV1]);
    await claimOnly({ workflowId: v1 }, [otherUnderV1], [otherOwn]);
    await claimOnly({ workflowName: other }, [otherOwn], []);
  }),
  claimCase("a claimed record's next save continues from the claim's revision, and a save of the revision it replaced is refused", async (provider, workflowName) => {
    const stored = await savedUnleased(provider, workflowName);
    const [claimed] = await claim(provider, request(workflowName));
    assert.ok(claimed !== undefined, "claim() took nothing");
    await assert.rejects(Promise.resolve().then(() => provider.save(nextRevision(stored))), { code: "SNAPSHOT_CONFLICT" });
    const next = nextRevision(claimed, { nextOperationIndex: 4 });
    await provider.save(next);
    assert.deepEqual(await provider.tryLoad(stored.foundryExecutionId, stored.workflowId), next);
  }),
  claimCase("claim() takes at most limit records, and claims made at once never take one record twice", async (provider, workflowName) => {
    const records = Array.from({ length: 7 }, () => unleased({ workflowName, status: "running" }));
    for (const snapshot of records) await provider.save(snapshot);
    const first = await claim(provider, request(workflowName, { limit: 2 }));
    assert.equal(first.length, 2, "claim() ignored its limit");
    const rest = await Promise.all(Array.from({ length: 4 }, () => claim(provider, request(workflowName, { limit: 2 }))));
    const all = [...first, ...rest.flat()];
    assert.deepEqual(ids(all), ids(records), "every record is claimed exactly once");
  }),
  {
    group: "claim",
    name: "claims made at once through two provider objects on one store never take one record twice",
    requires: ["reopen"],
    // A lock inside one object (around read, await, write) passes the case above and fails here.
    async run(provider, hooks) {
      const workflowName = `Claim-${randomKeys().workflowId}`;
      const through = [provider, await hooks!.reopen()];
      for (let round = 0; round < 3; round++) {
        const records = Array.from({ length: 7 }, () => unleased({ workflowName, status: "running" }));
        for (const snapshot of records) await provider.save(snapshot);
        const claimed = (await Promise.all(Array.from({ length: 6 }, (_, claimer) => claim(through[claimer % 2]!, request(workflowName, { limit: 2 }))))).flat();
        const twice = ids(claimed).filter((id, index, all) => all.indexOf(id) !== index);
        assert.deepEqual(twice, [], `round ${round}: a record was claimed twice`);
        assert.deepEqual(ids(claimed), ids(records), `round ${round}: every record is claimed exactly once`);
      }
    },
  },
  claimCase("what claim() returns is the caller's own: changing it, deep in its properties and outputs, leaves the stored record as claimed", async (provider, workflowName) => {
    const stored = await savedUnleased(provider, workflowName);
    const [claimed] = await claim(provider, request(workflowName));
    assert.ok(claimed !== undefined, "claim() took nothing");
    const asClaimed = structuredClone(claimed);
    // A run changes the record it claimed as it goes; a provider handing out its own objects would store those changes unsaved.
    changeDeeply(claimed, "changed after claim");
    assert.deepEqual(await provider.tryLoad(stored.foundryExecutionId, stored.workflowId), asClaimed, "changing what claim() returned changed the stored record");
  }),
  claimCase("claim() follows later saves: a renewed lease keeps a record, a released or re-enqueued one is claimable at once", async (provider, workflowName) => {
    const later = (ms: number) => new Date(Date.now() + ms).toISOString();
    const [renewed, released, enqueued] = [unleased({ workflowName, status: "running" }), unleased({ workflowName, status: "running" }), unleased({ workflowName, status: "running" })];
    for (const snapshot of [renewed, released, enqueued]) await provider.save(snapshot);
    // All three claimed with a lease of a minute; the last claim comes at a `now` past it, as after a worker died.
    const first = await claim(provider, request(workflowName, { leaseExpiresAt: later(60_000) }));
    assert.deepEqual(ids(first), ids([renewed, released, enqueued]));
    const claimedOf = (snapshot: WorkflowExecutionSnapshot) => first.find((item) => item.foundryExecutionId === snapshot.foundryExecutionId)!;
    // A checkpoint renews one lease; another is released (no lease); the third completes and is enqueued again.
    await provider.save(nextRevision(claimedOf(renewed), { leaseExpiresAt: later(600_000) }));
    const withoutLease: Record<string, unknown> = { ...nextRevision(claimedOf(released)) };
    delete withoutLease.leaseExpiresAt;
    await provider.save(withoutLease as unknown as WorkflowExecutionSnapshot);
    const completed = nextRevision(claimedOf(enqueued), { status: "completed" });
    await provider.save(completed);
    const again: Record<string, unknown> = { ...nextRevision(completed, { status: "running", attempts: 0 }) };
    delete again.leaseExpiresAt;
    await provider.save(again as unknown as WorkflowExecutionSnapshot);
    const past = request(workflowName, { now: later(90_000), leaseExpiresAt: later(120_000) });
    assert.deepEqual(ids(await claim(provider, past)), ids([released, enqueued]), "claim() must skip the renewed lease and take the released and re-enqueued records");
  }),
  claimCase("a claim the store runs only after its own lease has ended claims nothing and counts no attempt, as after a stall", async (provider, workflowName) => {
    const stored = await savedUnleased(provider, workflowName);
    // Sent a lease and a half ago with a lease of a minute: the store answers it only now.
    const sentAt = Date.now() - 90_000;
    const late = request(workflowName, { now: new Date(sentAt).toISOString(), leaseExpiresAt: new Date(sentAt + 60_000).toISOString() });
    assert.deepEqual(await claim(provider, late), [], "a claim run after its own lease ended (by the store's clock) took records: each claim a stalled store runs late would count an attempt");
    assert.deepEqual(await provider.tryLoad(stored.foundryExecutionId, stored.workflowId), stored, "a claim run after its own lease ended changed the record");
    const [claimed] = await claim(provider, request(workflowName));
    assert.equal(claimed?.attempts, (stored.attempts ?? 0) + 1, "the next claim in time must take the record, counting one attempt");
  }),
  claimCase("a dead letter a claim passed over is claimed by one allowing more attempts, and after a save of it (a retry, a run that died)", async (provider, workflowName) => {
    const expired = new Date(Date.now() - 1_000).toISOString();
    const [raised, retried, reran] = [0, 1, 2].map(() => unleased({ workflowName, status: "failed", attempts: 3 }));
    for (const snapshot of [raised, retried, reran]) await provider.save(snapshot as WorkflowExecutionSnapshot);
    assert.deepEqual(await claim(provider, request(workflowName)), [], "a dead letter (3 attempts of 3) was claimed");
    // A retry sets the attempts back; a run of the dead letter (a manual resume) died with its lease.
    await provider.save(nextRevision(retried!, { attempts: 0 }));
    await provider.save(nextRevision(reran!, { status: "running", owner: "gone", leaseExpiresAt: expired }));
    assert.deepEqual(ids(await claim(provider, request(workflowName))), ids([retried!, reran!]), "a dead letter saved again must be claimable as its new state says");
    assert.deepEqual(ids(await claim(provider, request(workflowName, { maxAttempts: 5 }))), ids([raised!]), "a claim allowing 5 attempts must take a dead letter of 3");
  }),
  // The claim group does not need list(): without it the claim is still read back through tryLoad().
  claimCase("tryLoad() reads a record as its claim left it, and so does list() where the provider has it", async (provider, workflowName) => {
    const stored = await savedUnleased(provider, workflowName);
    const [claimed] = await claim(provider, request(workflowName));
    assert.ok(claimed !== undefined, "claim() took nothing");
    assert.deepEqual(await provider.tryLoad(stored.foundryExecutionId, stored.workflowId), claimed, "tryLoad() must read the claim's revision, owner, lease and attempts");
    if (typeof provider.list !== "function") return;
    // list() may resolve an array or be an async iterable: both are read the same way.
    const listed: WorkflowExecutionSnapshot[] = [];
    for await (const snapshot of await provider.list({ workflowName })) listed.push(snapshot);
    assert.deepEqual(listed, [claimed], "list() must show the claim's revision, owner, lease and attempts");
  }),
  claimCase("claim() with an aborted signal rejects and claims nothing", async (provider, workflowName) => {
    const stored = await savedUnleased(provider, workflowName);
    await assert.rejects(Promise.resolve().then(() => provider.claim!(request(workflowName), AbortSignal.abort(new Error("conformance abort")))));
    assert.equal((await provider.tryLoad(stored.foundryExecutionId, stored.workflowId))?.revision, 1);
  }),
];
