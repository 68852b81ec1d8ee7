import assert from "node:assert/strict";
import type { SnapshotKeys } from "../errors.js";
import { createSnapshotCodec, defaultMaxSnapshotBytes } from "../codec/codec.js";
import type { WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { fullSnapshot, nextRevision, randomKeys, richValues, waitingSnapshot } from "./fixtures.js";
import { compareAndSetCases } from "./compare-and-set-cases.js";
import { keyCases } from "./key-cases.js";
import { claimCases } from "./claim-cases.js";
import { dueCases, timerCases } from "./due-cases.js";
import { pushCases } from "./push-cases.js";
import { mailboxCases } from "./mailbox-cases.js";
import { listCases } from "./list-cases.js";
import { recoveryCases } from "./recovery-cases.js";
import { unreadableCases } from "./unreadable-cases.js";
import { workflowCases } from "./workflow-cases.js";

/** Groups of the conformance suite, in the order they run; any of them can be skipped by name. */
export const conformanceGroups = ["basics", "values", "keys", "large", "compareAndSet", "list", "claim", "timers", "mailbox", "due", "push", "unreadable", "abort", "workflow", "recovery"] as const;

/** Groups of the conformance suite; any of them can be skipped by name. */
export type ConformanceGroup = (typeof conformanceGroups)[number];

/** The initializer's optional hooks, bound to the provider under test, for the cases that need them. */
export interface ConformanceHooks {
  /** Makes the stored record of `keys` unreadable: the initializer's `corrupt(keys, provider)`. */
  corrupt(keys: SnapshotKeys): Promise<void>;
  /** A second provider object on the store of the one under test: the initializer's `reopen(provider)`. */
  reopen(): Promise<WorkflowPersistenceProvider>;
}

/** One case of the conformance kit: a contract every provider keeps, in its group. */
export interface ConformanceCase {
  readonly group: ConformanceGroup;
  /** States the contract the case checks. */
  readonly name: string;
  /** Initializer hooks the case cannot run without; it is skipped, naming them, when one is missing. */
  readonly requires?: readonly (keyof ConformanceHooks)[];
  /** `hooks` is required by a case that `requires` one. */
  run(provider: WorkflowPersistenceProvider, hooks?: ConformanceHooks): Promise<void>;
}

const load = async (provider: WorkflowPersistenceProvider, snapshot: Pick<WorkflowExecutionSnapshot, "foundryExecutionId" | "workflowId">) =>
  (await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)) ?? undefined;

/** Saves `snapshot` and checks that tryLoad returns it as it was. */
async function roundTrip(provider: WorkflowPersistenceProvider, snapshot: WorkflowExecutionSnapshot): Promise<void> {
  await provider.save(snapshot);
  assert.deepEqual(await load(provider, snapshot), snapshot);
}

const basics: ConformanceCase[] = [
  {
    group: "basics",
    name: "tryLoad(key) of an unknown key resolves undefined or null",
    async run(provider) {
      const keys = randomKeys();
      assert.equal((await provider.tryLoad(keys.foundryExecutionId, keys.workflowId)) ?? undefined, undefined);
    },
  },
  {
    group: "basics",
    name: "save then tryLoad round-trips every snapshot field",
    async run(provider) {
      await roundTrip(provider, fullSnapshot());
    },
  },
  {
    group: "basics",
    // Plain persistence stores them too (a sleep suspends with wakeAt), whatever else a provider offers.
    name: "save then tryLoad round-trips the fields of a waiting snapshot (wakeAt, waitingFor, consumedEvents) and a cancelled one (cancelledAt)",
    async run(provider) {
      const wakeAt = new Date(Date.now() + 60_000).toISOString();
      await roundTrip(provider, waitingSnapshot({ wakeAt, waitingFor: "approved", consumedEvents: ["event-1", "event-2"] }));
      await roundTrip(provider, waitingSnapshot({ status: "cancelled", cancelledAt: new Date().toISOString(), consumedEvents: ["event-3"] }));
    },
  },
  {
    group: "basics",
    name: "save replaces the stored snapshot, also one tryLoad read before: a later tryLoad returns the newer",
    async run(provider) {
      const first = fullSnapshot({ status: "running" });
      await provider.save(first);
      // A read cache that save does not update passes a save-save-load; a retry in the same process then runs a step again.
      assert.deepEqual(await load(provider, first), first);
      const second = nextRevision(first, { nextOperationIndex: 4, properties: { replaced: true } });
      await provider.save(second);
      assert.deepEqual(await load(provider, first), second, "tryLoad after a second save returned the snapshot it read before it (a read cache that save does not update?)");
    },
  },
  {
    group: "basics",
    name: "a save lands whole or not at all: one it refuses (a function among the properties) leaves the stored snapshot as it was",
    async run(provider) {
      const first = fullSnapshot({ status: "running" });
      await provider.save(first);
      // A provider that stores objects may keep a function; one that encodes must refuse it before writing.
      const unstorable = nextRevision(first, { properties: { ...first.properties, callback: () => "not data" } });
      const refused = await Promise.resolve()
        .then(() => provider.save(unstorable))
        .then(
          () => false,
          () => true,
        );
      assert.deepEqual(await load(provider, first), refused ? first : unstorable);
    },
  },
  {
    group: "basics",
    name: "what is stored is the provider's own: changing the saved object, or one tryLoad returned, leaves it as saved",
    async run(provider) {
      const snapshot = fullSnapshot();
      const saved = structuredClone(snapshot);
      await provider.save(snapshot);
      // A provider that keeps or returns the caller's objects lets a failed operation's changes leak into the checkpoint.
      const change = (target: WorkflowExecutionSnapshot | undefined, value: string) => {
        const properties = target?.properties as { nested: { deep: { value: string } }; items: unknown[] } | undefined;
        if (properties === undefined) return;
        properties.nested.deep.value = value;
        properties.items.push(value);
      };
      change(snapshot, "changed after save");
      change(await load(provider, saved), "changed after tryLoad");
      assert.deepEqual(await load(provider, saved), saved);
    },
  },
  {
    group: "basics",
    name: "delete(key) of an unknown key resolves",
    async run(provider) {
      const keys = randomKeys();
      await provider.delete(keys.foundryExecutionId, keys.workflowId);
    },
  },
  {
    group: "basics",
    name: "delete(key) removes the snapshot and a new save starts again at revision 1",
    async run(provider) {
      const snapshot = fullSnapshot();
      await provider.save(snapshot);
      await provider.delete(snapshot.foundryExecutionId, snapshot.workflowId);
      assert.equal(await load(provider, snapshot), undefined);
      await roundTrip(provider, snapshot);
    },
  },
  {
    group: "basics",
    name: "saves of 20 different instances made at once all land, and deletes of others made among them remove only those",
    async run(provider) {
      const doomed = Array.from({ length: 4 }, () => fullSnapshot());
      for (const snapshot of doomed) await provider.save(snapshot);
      const saved = Array.from({ length: 20 }, (_, index) => fullSnapshot({ properties: { index } }));
      // A store rewriting one document of every record (read, await, write) loses all but one of these.
      const deletes = doomed.map(async (snapshot) => provider.delete(snapshot.foundryExecutionId, snapshot.workflowId));
      await Promise.all([...saved.slice(0, 10).map(async (snapshot) => provider.save(snapshot)), ...deletes, ...saved.slice(10).map(async (snapshot) => provider.save(snapshot))]);
      for (const snapshot of saved) assert.deepEqual(await load(provider, snapshot), snapshot, `the save of instance ${snapshot.properties.index as number} of 20 made at once was lost`);
      for (const snapshot of doomed) assert.equal(await load(provider, snapshot), undefined, "a delete made among the saves did not remove its instance");
    },
  },
  {
    group: "basics",
    name: "keys are isolated by both parts, including separators inside keys",
    async run(provider) {
      const id = randomKeys().foundryExecutionId;
      // Whatever a store joins the two keys with, one pair of these is (x + it + "a", "b") and (x, "a" + it + "b").
      const separators = [..."!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ ", "::", "||", "--", "__", "//", "\u0000", "\t", "\n", "\r", "\u001e", "\u001f"];
      const pairs: [string, string][] = [...separators.flatMap((separator): [string, string][] => [[`${id}${separator}a`, "b"], [id, `a${separator}b`]]), [id, "b"]];
      for (const [foundryExecutionId, workflowId] of pairs) {
        await provider.save(fullSnapshot({ foundryExecutionId, workflowId, properties: { pair: [foundryExecutionId, workflowId] } }));
      }
      for (const [foundryExecutionId, workflowId] of pairs) {
        const loaded = await load(provider, { foundryExecutionId, workflowId });
        assert.deepEqual(loaded?.properties, { pair: [foundryExecutionId, workflowId] }, `tryLoad${JSON.stringify([foundryExecutionId, workflowId])} returned another pair's snapshot, or none: two pairs share a stored key (keys joined with a separator?)`);
      }
    },
  },
];

const values: ConformanceCase[] = [
  {
    group: "values",
    name: "save then tryLoad round-trips every value type of the snapshot codec: Date, Map, Set, BigInt, undefined, NaN, -0, ±Infinity, typed arrays, RegExp",
    async run(provider) {
      await roundTrip(provider, fullSnapshot({ properties: richValues(), lastOutput: richValues(), outputs: { 1: richValues() } }));
    },
  },
];

/** A snapshot the default codec encodes in exactly `bytes` bytes: the envelope, then the body with a blob of "x" making up the rest. */
function snapshotOfEncodedSize(bytes: number): WorkflowExecutionSnapshot {
  const measure = createSnapshotCodec({ maxSnapshotBytes: Infinity });
  const base = fullSnapshot({ properties: { blob: "", small: 1 } });
  const withBlob = (length: number): WorkflowExecutionSnapshot => ({ ...base, properties: { blob: "x".repeat(length), small: 1 } });
  let length = bytes - measure.encode(base).length;
  // The envelope states the body's length, in more digits once the blob is in.
  length -= measure.encode(withBlob(length)).length - bytes;
  return withBlob(length);
}

const large: ConformanceCase[] = [
  {
    group: "large",
    // The largest the default codec accepts: a store with a lower limit (3.5 MiB, a 4 MiB row that
    // must hold the keys too) loses the snapshots of the runs that grew the most.
    name: "a snapshot the default codec encodes in exactly its limit, 4 MiB, round-trips",
    async run(provider) {
      const snapshot = snapshotOfEncodedSize(defaultMaxSnapshotBytes);
      await provider.save(snapshot);
      const loaded = await load(provider, snapshot);
      // Named rather than diffed: a diff of a 4 MiB snapshot shows little and says less.
      assert.ok(loaded !== undefined, `tryLoad must return the snapshot just saved, ${defaultMaxSnapshotBytes} bytes encoded, but returned nothing`);
      const [saved, returned] = [snapshot, loaded].map((each) => (typeof each.properties.blob === "string" ? each.properties.blob.length : undefined));
      assert.equal(returned, saved, `tryLoad must return the snapshot of ${defaultMaxSnapshotBytes} bytes encoded as saved, but its blob of ${saved} characters came back with ${returned}`);
      assert.deepEqual(loaded, snapshot);
    },
  },
];

const abort: ConformanceCase[] = [
  {
    group: "abort",
    name: "save, tryLoad and delete with an aborted signal reject",
    async run(provider) {
      const snapshot = fullSnapshot();
      const signal = AbortSignal.abort(new Error("conformance abort"));
      await assert.rejects(async () => provider.save(snapshot, signal), "save");
      assert.equal(await load(provider, snapshot), undefined, "an aborted save writes nothing");
      await assert.rejects(async () => provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId, signal), "tryLoad");
      await assert.rejects(async () => provider.delete(snapshot.foundryExecutionId, snapshot.workflowId, signal), "delete");
    },
  },
];

/** Every case, in the order they run. */
export const conformanceCases: readonly ConformanceCase[] = [
  ...basics,
  ...values,
  ...keyCases,
  ...large,
  ...compareAndSetCases,
  ...listCases,
  ...claimCases,
  ...timerCases,
  ...mailboxCases,
  ...dueCases,
  ...pushCases,
  ...unreadableCases,
  ...abort,
  ...workflowCases,
  ...recoveryCases,
];
