import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { PersistenceError, SnapshotConflictError } from "../../../src/persistence/errors.js";
import { PostgresPersistenceProvider, type PostgresClient } from "../../../src/persistence/providers/postgres.js";
import type { WorkflowExecutionSnapshot } from "../../../src/persistence/snapshot.js";
import { deliveredEvent, fullSnapshot, nextRevision } from "../../../src/persistence/testing/fixtures.js";
import { freshTable } from "./postgres-cases.js";

// Group commit on a database: saves (and deletes) that arrive while one is in flight go as one
// statement, each save with its own compare-and-set. Run on PGlite and on a real server.

const isBatch = (text: string): boolean => text.startsWith("WITH i (n,") || text.startsWith("WITH k (");

/** Saves `first` alone, then `rest` while it is in flight: they go together once it settles. */
function saveTogether(provider: PostgresPersistenceProvider, first: WorkflowExecutionSnapshot, rest: readonly WorkflowExecutionSnapshot[]) {
  return Promise.allSettled([first, ...rest].map((snapshot) => provider.save(snapshot)));
}

/** `inner`, recording each statement's text as it is sent (a statement that then fails included). */
function recordingClient(inner: PostgresClient) {
  const calls: { text: string }[] = [];
  const client: PostgresClient = {
    query: (text, values) => {
      calls.push({ text });
      return inner.query(text, values);
    },
  };
  return { client, calls };
}

async function setUp(client: PostgresClient, wrap: (inner: PostgresClient) => PostgresClient = (inner) => inner) {
  const tableName = freshTable();
  const { client: counted, calls } = recordingClient(wrap(client));
  const provider = new PostgresPersistenceProvider({ client: counted, tableName });
  await provider.migrate();
  calls.length = 0;
  return { provider, calls, tableName };
}

export function describePostgresGroupedCases(backend: string, client: () => PostgresClient): void {
  describe(`PostgresPersistenceProvider group commit on ${backend}`, () => {
    it("a save or delete whose signal aborts while it waits behind a hung write of its instance rejects at once with the reason and is never sent", async () => {
      let sent!: () => void;
      let finish!: () => void;
      const [hungSent, hung] = [new Promise<void>((resolve) => (sent = resolve)), new Promise<void>((resolve) => (finish = resolve))];
      let holding = false;
      // The first INSERT hangs until the test lets it go, as one waiting on a row lock would.
      const holdFirstInsert = (inner: PostgresClient): PostgresClient => ({
        query: async (text, values) => {
          if (holding && text.startsWith("INSERT")) {
            holding = false;
            sent();
            await hung;
          }
          return inner.query(text, values);
        },
      });
      const { provider, calls } = await setUp(client(), holdFirstInsert);
      const first = fullSnapshot();
      holding = true;
      const saving = provider.save(first);
      await hungSent;
      const controller = new AbortController();
      const waiting = [provider.save(nextRevision(first), controller.signal), provider.delete(first.foundryExecutionId, first.workflowId, controller.signal)];
      const reason = new Error("the caller gave up");
      controller.abort(reason);
      for (const write of waiting) await expect(write).rejects.toBe(reason);

      finish();
      await saving;
      // A write called after them goes once the hung one settled, and the aborted ones were never sent.
      const second = nextRevision(first);
      await provider.save(second);
      expect(calls.map((call) => call.text.split(" ")[0])).toEqual(["INSERT", "UPDATE"]);
      expect(await provider.tryLoad(first.foundryExecutionId, first.workflowId)).toEqual(second);
    });

    it("saves that arrive while one is in flight go as one statement, each with its own compare-and-set", async () => {
      const { provider, calls } = await setUp(client());
      const [first, ...rest] = Array.from({ length: 4 }, () => fullSnapshot());
      const stale = nextRevision(nextRevision(fullSnapshot()));
      const created = await saveTogether(provider, first!, [...rest, stale]);
      expect(created.map((outcome) => outcome.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "fulfilled", "rejected"]);
      expect((created[4] as PromiseRejectedResult).reason).toBeInstanceOf(SnapshotConflictError);
      expect(calls.map((call) => isBatch(call.text))).toEqual([false, true]);

      // Updates too, with one refused in the middle: it was saved at revision 1 and names revision 1 again.
      // Having seen saves come together, the provider gathers those of one moment from the first.
      calls.length = 0;
      const [a, b, c, d] = [first!, ...rest].map((snapshot) => nextRevision(snapshot));
      const updated = await saveTogether(provider, a!, [b!, { ...c!, revision: 1 }, d!]);
      expect(updated.map((outcome) => outcome.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
      expect((updated[2] as PromiseRejectedResult).reason).toMatchObject({ code: "SNAPSHOT_CONFLICT", keys: { foundryExecutionId: c!.foundryExecutionId } });
      expect(calls.map((call) => isBatch(call.text))).toEqual([true]);
      for (const snapshot of [a!, b!, d!]) expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
      expect(await provider.tryLoad(c!.foundryExecutionId, c!.workflowId)).toEqual(rest[1]);
      expect(await provider.tryLoad(stale.foundryExecutionId, stale.workflowId)).toBeUndefined();
    });

    it("odd keys go through a group as they go alone, and read back as themselves", async () => {
      const { provider, calls } = await setUp(client());
      const odd = ["\uD800 lone", "back\\slash \\u0041", "..", "\uFEFFbom", "é✓ 𝄞", "x".repeat(1_000), "nul\u0000inside"];
      const [first, ...rest] = odd.map((key) => fullSnapshot({ foundryExecutionId: `${key}-${randomUUID()}` }));
      const outcomes = await saveTogether(provider, first!, rest);
      expect(outcomes.every((outcome) => outcome.status === "fulfilled")).toBe(true);
      expect(calls.map((call) => isBatch(call.text))).toEqual([false, true]);
      for (const snapshot of [first!, ...rest]) expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
    });

    it("two saves of one instance never share a statement: exactly one of the same revision is stored", async () => {
      const { provider, calls } = await setUp(client());
      const first = fullSnapshot();
      const twin = fullSnapshot();
      const other = fullSnapshot();
      const outcomes = await saveTogether(provider, first, [twin, { ...twin, workflowName: "Rival" }, other]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
      expect((outcomes[2] as PromiseRejectedResult).reason).toBeInstanceOf(SnapshotConflictError);
      expect(calls.map((call) => isBatch(call.text))).toEqual([false, true, false]);
      expect(await provider.tryLoad(twin.foundryExecutionId, twin.workflowId)).toEqual(twin);
    });

    it("a delete called after a save of one instance, without waiting for it, reaches the store after it", async () => {
      const { provider } = await setUp(client());
      const [busy, saved] = [fullSnapshot(), fullSnapshot()];
      const order: string[] = [];
      // The first save is in flight, so the second waits in the saves' queue while the deletes' is idle.
      await Promise.all([
        provider.save(busy),
        provider.save(saved).then(() => order.push("save")),
        provider.delete(saved.foundryExecutionId, saved.workflowId).then(() => order.push("delete")),
      ]);
      expect(order).toEqual(["save", "delete"]);
      expect(await provider.tryLoad(saved.foundryExecutionId, saved.workflowId)).toBeUndefined();
    });

    it("a group the server refuses as a whole is sent again save by save: only the save at fault fails", async () => {
      const { provider, calls } = await setUp(client());
      // Random text does not compress: 3,000 bytes is over the 2,704 a btree index entry holds.
      const long = Array.from({ length: 94 }, () => randomUUID()).join("").slice(0, 3_000);
      const [first, good, other] = Array.from({ length: 3 }, () => fullSnapshot());
      const faulty = fullSnapshot({ foundryExecutionId: long });
      const outcomes = await saveTogether(provider, first!, [good!, faulty, other!]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
      expect((outcomes[2] as PromiseRejectedResult).reason).toMatchObject({ name: "PersistenceError", call: "save", keys: { foundryExecutionId: long } });
      // The lone first save, the refused group, then each of its three by itself.
      expect(calls.map((call) => isBatch(call.text))).toEqual([false, true, false, false, false]);
      for (const snapshot of [good!, other!]) expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
      expect(await provider.tryLoad(long, faulty.workflowId)).toBeUndefined();
    });

    it("a group lost with its connection fails each of its saves with the driver's error and its own keys, and sends none again", async () => {
      const lost = Object.assign(new Error("Connection terminated unexpectedly"), { code: "08006" });
      const failBatches = (inner: PostgresClient): PostgresClient => ({ query: (text, values) => (isBatch(text) ? Promise.reject(lost) : inner.query(text, values)) });
      const { provider, calls } = await setUp(client(), failBatches);
      const [first, ...rest] = Array.from({ length: 3 }, () => fullSnapshot());
      const outcomes = await saveTogether(provider, first!, rest);
      expect(outcomes[0]!.status).toBe("fulfilled");
      for (const [index, snapshot] of rest.entries()) {
        const reason = (outcomes[index + 1] as PromiseRejectedResult).reason as PersistenceError;
        expect(reason).toBeInstanceOf(PersistenceError);
        expect(reason).toMatchObject({ call: "save", keys: { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId }, cause: lost });
      }
      // The lone first save, then the group, and nothing sent again.
      expect(calls.map((call) => isBatch(call.text))).toEqual([false, true]);
    });

    it("a save whose statement hangs holds up the saves queued behind it only briefly", async () => {
      let hung = false;
      // The first save's statement never answers, as over a connection that went silent.
      const hangFirst = (inner: PostgresClient): PostgresClient => ({
        query: (text, values) => {
          if (!hung && text.startsWith("INSERT")) {
            hung = true;
            return new Promise(() => undefined);
          }
          return inner.query(text, values);
        },
      });
      const { provider } = await setUp(client(), hangFirst);
      const [stuck, ...rest] = Array.from({ length: 3 }, () => fullSnapshot());
      void provider.save(stuck!);
      await Promise.all(rest.map((snapshot) => provider.save(snapshot)));
      for (const snapshot of rest) expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
    });

    it("deletes that arrive together go as one statement, each instance's events with it", async () => {
      const { provider, calls, tableName } = await setUp(client());
      const snapshots = Array.from({ length: 4 }, () => fullSnapshot());
      for (const snapshot of snapshots) {
        await provider.save(snapshot);
        await provider.deliver(deliveredEvent(snapshot));
      }
      const kept = fullSnapshot();
      await provider.save(kept);
      await provider.deliver(deliveredEvent(kept));
      calls.length = 0;
      await Promise.all(snapshots.map((snapshot) => provider.delete(snapshot.foundryExecutionId, snapshot.workflowId)));
      expect(calls.map((call) => isBatch(call.text))).toEqual([false, true]);
      for (const snapshot of snapshots) expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toBeUndefined();
      const { rows } = await client().query(`SELECT instance_id FROM "${tableName}_mailbox"`);
      expect(rows).toEqual([{ instance_id: kept.foundryExecutionId }]);
      expect(await provider.tryLoad(kept.foundryExecutionId, kept.workflowId)).toEqual(kept);
    });
  });
}
