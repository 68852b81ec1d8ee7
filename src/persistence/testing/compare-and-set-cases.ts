import assert from "node:assert/strict";
import { isWorkflowForgeError } from "../../errors.js";
import type { WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import type { ConformanceCase } from "./cases.js";
import { fullSnapshot, nextRevision } from "./fixtures.js";

const load = async (provider: WorkflowPersistenceProvider, snapshot: Pick<WorkflowExecutionSnapshot, "foundryExecutionId" | "workflowId">) =>
  (await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)) ?? undefined;

// A thunk, so that a provider that throws synchronously is caught too. A wrong error is named in
// the message, rather than left to a diff of the validation function against the error.
async function assertConflict(attempt: () => Promise<void> | void, what: string): Promise<void> {
  await assert.rejects(
    async () => attempt(),
    (error: unknown) => {
      if (isWorkflowForgeError(error) && error.code === "SNAPSHOT_CONFLICT") return true;
      const received = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      assert.fail(`${what} must reject with SnapshotConflictError (code SNAPSHOT_CONFLICT), but rejected with ${received}`);
    },
    `${what} must reject with SnapshotConflictError`,
  );
}

/** Five rounds of 8 writers of one revision, taking turns through `through`: exactly one wins each round. */
async function writersRace(provider: WorkflowPersistenceProvider, through: readonly WorkflowPersistenceProvider[]): Promise<void> {
  let current = fullSnapshot({ revision: 1 });
  await provider.save(current);
  for (let round = 0; round < 5; round++) {
    const attempts = Array.from({ length: 8 }, (_, writer) => nextRevision(current, { owner: `writer-${writer}` }));
    const results = await Promise.allSettled(attempts.map(async (attempt, writer) => through[writer % through.length]!.save(attempt)));
    const winners = results.flatMap((result, writer) => (result.status === "fulfilled" ? [writer] : []));
    assert.equal(winners.length, 1, `round ${round}: exactly one writer must win, got ${winners.length}`);
    for (const result of results) {
      if (result.status === "rejected") assert.ok(isWorkflowForgeError(result.reason) && result.reason.code === "SNAPSHOT_CONFLICT", "losers get SnapshotConflictError");
    }
    current = attempts[winners[0] as number] as WorkflowExecutionSnapshot;
    for (const reader of through) assert.deepEqual(await load(reader, current), current, "every provider object reads the winner");
  }
}

export const compareAndSetCases: ConformanceCase[] = [
  {
    group: "compareAndSet",
    name: "save with a stale revision rejects with SnapshotConflictError and keeps the stored snapshot",
    async run(provider) {
      const first = fullSnapshot();
      await provider.save(first);
      const second = nextRevision(first);
      await provider.save(second);
      await assertConflict(() => provider.save(nextRevision(first, { properties: { stale: true } })), "a stale save");
      assert.deepEqual(await load(provider, first), second);
    },
  },
  {
    group: "compareAndSet",
    name: "save of an already stored revision rejects with SnapshotConflictError",
    async run(provider) {
      const first = fullSnapshot();
      await provider.save(first);
      await assertConflict(() => provider.save({ ...first, properties: { duplicate: true } }), "a duplicate revision");
      assert.deepEqual(await load(provider, first), first);
    },
  },
  {
    group: "compareAndSet",
    name: "save of a revision past the next one rejects: a stale writer's later checkpoint must not overwrite a newer run",
    async run(provider) {
      const first = fullSnapshot();
      await provider.save(first);
      // Stored 1, saved 3: a writer that held revision 2 of an earlier instance of these keys.
      await assertConflict(() => provider.save({ ...nextRevision(first), revision: 3, properties: { skipped: true } }), "revision 3 over stored revision 1");
      assert.deepEqual(await load(provider, first), first);
    },
  },
  {
    group: "compareAndSet",
    name: "a first save with a revision other than 1 rejects (no record counts as revision 0)",
    async run(provider) {
      const snapshot = fullSnapshot({ revision: 2 });
      await assertConflict(() => provider.save(snapshot), "revision 2 over nothing");
      assert.equal(await load(provider, snapshot), undefined);
    },
  },
  {
    group: "compareAndSet",
    name: "of 8 concurrent writers of the same revision exactly one wins, for every revision",
    run: (provider) => writersRace(provider, [provider]),
  },
  {
    group: "compareAndSet",
    name: "of 8 concurrent writers of the same revision through two provider objects on one store exactly one wins, for every revision",
    requires: ["reopen"],
    // A lock inside one object (around read, await, write) passes the case above and fails here.
    run: async (provider, hooks) => writersRace(provider, [provider, await hooks!.reopen()]),
  },
];
