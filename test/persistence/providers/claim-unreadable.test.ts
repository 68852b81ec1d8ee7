import { describe, expect, it } from "vitest";
import { defaultSnapshotCodec, type SnapshotCodec, type SnapshotKeys, type WorkflowExecutionSnapshot, type WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { SnapshotCorruptedError } from "../../../src/persistence/errors.js";
import type { ListOptions } from "../../../src/persistence/list-options.js";
import { MemoryPersistenceProvider } from "../../../src/persistence/providers/memory.js";
import { SqlitePersistenceProvider } from "../../../src/persistence/providers/sqlite.js";
import { fullSnapshot } from "../../../src/persistence/testing/fixtures.js";
import { rejectionOf } from "../../support/promises.js";
import { useSqliteFiles } from "../../support/sqlite-files.js";

// A claim() that rejects hands its caller nothing, so it must take nothing: a record it leased and
// counted an attempt on would stay leased to a claimer that never got it.

const sqlite = useSqliteFiles("claim-unreadable");
const id = (keys: SnapshotKeys): string => JSON.stringify([keys.foundryExecutionId, keys.workflowId]);
const keysOf = ({ foundryExecutionId, workflowId }: WorkflowExecutionSnapshot): SnapshotKeys => ({ foundryExecutionId, workflowId });
const request = { owner: "claimer", now: "2026-06-01T00:00:00.000Z", leaseExpiresAt: "2026-06-01T00:01:00.000Z", limit: 10, maxAttempts: 5 };

// The default codec, failing to decode the records in `broken` with what `failure()` throws.
function failingFor(broken: Set<string>, failure: () => Error): SnapshotCodec {
  return {
    encode: (snapshot) => defaultSnapshotCodec.encode(snapshot),
    decode: (text, keys) => {
      if (broken.has(id(keys))) throw failure();
      return defaultSnapshotCodec.decode(text, keys);
    },
  };
}

type Claiming = Required<Pick<WorkflowPersistenceProvider, "claim">> & WorkflowPersistenceProvider;

const stores: [string, (codec: SnapshotCodec) => Claiming][] = [
  ["MemoryPersistenceProvider", (codec) => new MemoryPersistenceProvider({ codec })],
  ["SqlitePersistenceProvider", (codec) => new SqlitePersistenceProvider({ database: sqlite.open(), codec })],
];

const stop = new Error("stop claiming");
const failures: [string, () => Error, ListOptions | undefined, (error: unknown) => void][] = [
  ["a record the codec cannot decode, without onUnreadable", () => new SyntaxError("bad text"), undefined, (error) => expect(error).toBeInstanceOf(SnapshotCorruptedError)],
  ["a decode that runs out of stack (not a damaged record)", () => new RangeError("Maximum call stack size exceeded"), undefined, (error) => expect(error).toBeInstanceOf(RangeError)],
  [
    "a record the codec cannot decode, with an onUnreadable that throws",
    () => new SyntaxError("bad text"),
    {
      onUnreadable: () => {
        throw stop;
      },
    },
    (error) => expect(error).toBe(stop),
  ],
];

describe.each(stores)("%s claim() that rejects", (_, create) => {
  it.each(failures)("over %s takes nothing: the readable records keep their revision, owner and attempts", async (_what, failure, options, rejectedWith) => {
    const broken = new Set<string>();
    const provider = create(failingFor(broken, failure));
    // Readable records saved first, so a claim that walks in order meets them before the broken one.
    const readable = [fullSnapshot({ status: "running" }), fullSnapshot({ status: "running" })];
    const unreadable = fullSnapshot({ status: "running" });
    for (const snapshot of [...readable, unreadable]) await provider.save(snapshot);
    broken.add(id(keysOf(unreadable)));

    rejectedWith(await rejectionOf(provider.claim(request, undefined, options)));

    for (const snapshot of readable) expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
    broken.clear();
    const next = await provider.claim({ ...request, owner: "next" });
    // Every record, the once-broken one included, is claimed for the first time: revision 2, attempt 3.
    expect(next.map((snapshot) => [snapshot.revision, snapshot.owner, snapshot.attempts])).toEqual(Array(3).fill([2, "next", 3]));
  });
});
