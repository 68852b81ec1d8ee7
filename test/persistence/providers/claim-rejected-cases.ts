import { expect, it } from "vitest";
import { defaultSnapshotCodec, type SnapshotCodec, type SnapshotKeys, type WorkflowPersistenceProvider } from "../../../src/persistence/index.js";
import { SnapshotCorruptedError } from "../../../src/persistence/errors.js";
import type { ListOptions } from "../../../src/persistence/list-options.js";
import { fullSnapshot } from "../../../src/persistence/testing/fixtures.js";
import { rejectionOf } from "../../support/promises.js";

// A claim() that rejects hands its caller nothing, so it must take nothing: a record it leased and
// counted an attempt on would stay leased to a claimer that never got it. The networked providers
// claim in one statement or script and decode afterwards, so they give back what they took; SQLite
// decodes inside the claim's savepoint, and the memory provider reads every record before it writes.

type Claiming = Required<Pick<WorkflowPersistenceProvider, "claim">> & WorkflowPersistenceProvider;

const id = (keys: SnapshotKeys): string => JSON.stringify([keys.foundryExecutionId, keys.workflowId]);
// A claim's lease must not have ended by the store's clock: an hour ahead, past every fixture's lease.
const inAnHour = Date.now() + 3_600_000;
const request = { owner: "claimer", now: new Date(inAnHour).toISOString(), leaseExpiresAt: new Date(inAnHour + 60_000).toISOString(), limit: 10, maxAttempts: 5 };

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

/** Registers the cases on a provider made by `create` with `codec`, on a store no other case uses. */
export function describeRejectedClaim(create: (codec: SnapshotCodec) => Claiming | Promise<Claiming>): void {
  it.each(failures)("claim() over %s rejects and takes nothing: every record keeps its revision, owner, lease and attempts", async (_what, failure, options, rejectedWith) => {
    const broken = new Set<string>();
    const provider = await create(failingFor(broken, failure));
    const readable = [fullSnapshot({ status: "running" }), fullSnapshot({ status: "failed" })];
    const unreadable = fullSnapshot({ status: "running" });
    const stored = [...readable, unreadable];
    for (const snapshot of stored) await provider.save(snapshot);
    broken.add(id(unreadable));

    rejectedWith(await rejectionOf(provider.claim(request, undefined, options)));

    for (const snapshot of readable) expect(await provider.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
    broken.clear();
    expect(await provider.tryLoad(unreadable.foundryExecutionId, unreadable.workflowId)).toEqual(unreadable);
    const next = await provider.claim({ ...request, owner: "next" });
    // Every record, the once-broken one included, is claimed for the first time: revision 2, attempt 3.
    expect(next.map((snapshot) => [snapshot.revision, snapshot.owner, snapshot.attempts])).toEqual(Array(3).fill([2, "next", 3]));
  });
}

/**
 * Registers the case of a claim that meets a record it cannot read, with `onUnreadable`: the record
 * is reported once a call and left as it was (no lease, no attempt), and the page is filled with
 * others, whether or not the store reaches the unreadable record first.
 */
export function describeUnreadableLeftAlone(create: (codec: SnapshotCodec) => Claiming | Promise<Claiming>): void {
  it("claim() with onUnreadable reports a record it cannot read once, leaves it as it was, and fills the page with others", async () => {
    const broken = new Set<string>();
    const provider = await create(failingFor(broken, () => new SyntaxError("bad text")));
    const unreadable = fullSnapshot({ status: "running" });
    const readable = [fullSnapshot({ status: "running" }), fullSnapshot({ status: "failed" })];
    for (const snapshot of [unreadable, ...readable]) await provider.save(snapshot);
    broken.add(id(unreadable));
    const reported: SnapshotKeys[] = [];
    const onUnreadable = (error: SnapshotCorruptedError): void => void reported.push(error.keys);

    const first = await provider.claim({ ...request, limit: 1 }, undefined, { onUnreadable });
    const second = await provider.claim(request, undefined, { onUnreadable });

    expect([...first, ...second].map(id).sort()).toEqual(readable.map(id).sort());
    // Reported by each call that met it (the stores' orders differ), once a call.
    expect(reported.length).toBeGreaterThanOrEqual(1);
    expect(reported.map(id)).toEqual(Array(reported.length).fill(id(unreadable)));
    expect(reported.length).toBeLessThanOrEqual(2);
    broken.clear();
    expect(await provider.tryLoad(unreadable.foundryExecutionId, unreadable.workflowId)).toEqual(unreadable);
  });
}
