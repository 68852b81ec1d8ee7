import { describe, expect, it } from "vitest";
import { GroupCommit, type GroupedWrite, type GroupOutcome, type GroupSender } from "../../../src/persistence/providers/group-commit.js";

// Group commit: writes that arrive while a statement is in flight go together in the next one.

interface Write extends GroupedWrite {
  readonly id: string;
}

const write = (id: string, options: { key?: string; size?: number; signal?: AbortSignal } = {}): Write => ({ id, key: options.key ?? id, size: options.size ?? 1, signal: options.signal });

/** A sender whose statements settle only when the test says so; `groups` holds each statement's writes. */
function heldSender() {
  const groups: string[][] = [];
  const pending: Array<(outcomes: readonly GroupOutcome[] | Error) => void> = [];
  const together = (writes: readonly Write[]): Promise<readonly GroupOutcome[]> => {
    groups.push(writes.map((item) => item.id));
    return new Promise((resolve, reject) => pending.push((outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome))));
  };
  const alone = async (one: Write): Promise<boolean> => {
    const [outcome] = await together([one]);
    if (outcome instanceof Error) throw outcome;
    return outcome === true;
  };
  const send: GroupSender<Write> = { alone, together };
  /** Settles the oldest unsettled statement with `outcomes` (every write stored when omitted). */
  const settle = (outcomes?: readonly GroupOutcome[] | Error): void => {
    const index = groups.length - pending.length;
    const next = pending.shift();
    if (next === undefined) throw new Error("no statement in flight");
    next(outcomes ?? groups[index]!.map(() => true));
  };
  return { send, groups, settle, inFlight: () => pending.length };
}

const limits = { rows: 4, size: 100 };
/** Lets every queued promise job and tick run. */
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A GroupCommit whose last statement carried two writes, with nothing in flight: writes are coming together. */
async function grouping(sender: ReturnType<typeof heldSender>): Promise<GroupCommit<Write>> {
  const group = new GroupCommit(sender.send, limits);
  const warmUp = ["w1", "w2", "w3"].map((id) => group.submit(write(id)));
  sender.settle();
  await settled();
  sender.settle();
  await Promise.all(warmUp);
  await settled();
  sender.groups.length = 0;
  return group;
}

describe("GroupCommit", () => {
  it("sends a lone write at once, by itself", async () => {
    const sender = heldSender();
    const group = new GroupCommit(sender.send, limits);
    const stored = group.submit(write("a"));
    expect(sender.groups).toEqual([["a"]]);
    sender.settle();
    await expect(stored).resolves.toBe(true);
  });

  it("holds writes that arrive while a statement is in flight, then sends them together when it settles", async () => {
    const sender = heldSender();
    const group = new GroupCommit(sender.send, limits);
    const first = group.submit(write("a"));
    const later = [group.submit(write("b")), group.submit(write("c"))];
    await settled();
    expect(sender.groups).toEqual([["a"]]);
    sender.settle();
    await first;
    await settled();
    expect(sender.groups).toEqual([["a"], ["b", "c"]]);
    sender.settle();
    await expect(Promise.all(later)).resolves.toEqual([true, true]);
  });

  it("once writes come together, a write waits for the others set off at the same moment, and each gets its own outcome", async () => {
    const sender = heldSender();
    const group = await grouping(sender);
    const results = ["a", "b", "c"].map((id) => group.submit(write(id)));
    expect(sender.groups).toEqual([]);
    await settled();
    expect(sender.groups).toEqual([["a", "b", "c"]]);
    sender.settle([true, false, new Error("c failed")]);
    expect(await Promise.allSettled(results)).toEqual([
      { status: "fulfilled", value: true },
      { status: "fulfilled", value: false },
      { status: "rejected", reason: new Error("c failed") },
    ]);
  });

  it("goes back to sending a lone write at once after a statement that carried one write", async () => {
    const sender = heldSender();
    const group = await grouping(sender);
    const waited = group.submit(write("a"));
    expect(sender.groups).toEqual([]);
    await settled();
    sender.settle();
    await waited;
    await settled();
    void group.submit(write("b"));
    expect(sender.groups).toEqual([["a"], ["b"]]);
  });

  it("sends a whole statement's worth at once, even with one in flight", async () => {
    const sender = heldSender();
    const group = new GroupCommit(sender.send, limits);
    void group.submit(write("a"));
    for (const id of ["b", "c", "d", "e"]) void group.submit(write(id));
    await settled();
    expect(sender.groups).toEqual([["a"], ["b", "c", "d", "e"]]);
    expect(sender.inFlight()).toBe(2);
  });

  it("sends held writes after a while when the statement in flight hangs", async () => {
    const sender = heldSender();
    const group = new GroupCommit(sender.send, limits);
    void group.submit(write("hangs"));
    const held = group.submit(write("b"));
    await expect.poll(() => sender.groups, { interval: 5, timeout: 30_000 }).toEqual([["hangs"], ["b"]]);
    sender.settle();
    sender.settle();
    await expect(held).resolves.toBe(true);
  });

  it("never puts two writes of one key in one statement: the second goes in the next", async () => {
    const sender = heldSender();
    const group = new GroupCommit(sender.send, limits);
    void group.submit(write("first"));
    const results = [group.submit(write("a1", { key: "a" })), group.submit(write("b")), group.submit(write("a2", { key: "a" }))];
    sender.settle();
    await settled();
    expect(sender.groups).toEqual([["first"], ["a1", "b"]]);
    sender.settle();
    await settled();
    expect(sender.groups).toEqual([["first"], ["a1", "b"], ["a2"]]);
    sender.settle();
    await expect(Promise.all(results)).resolves.toEqual([true, true, true]);
  });

  it("a later write of a key never goes ahead of an earlier one the size cap left for the next statement", async () => {
    const sender = heldSender();
    const group = new GroupCommit(sender.send, limits);
    void group.submit(write("first"));
    // a1 does not fit beside x; a2 (a delete, say: no size) would, but must not overtake a1.
    for (const item of [write("x", { size: 60 }), write("a1", { key: "a", size: 60 }), write("a2", { key: "a", size: 0 })]) void group.submit(item);
    sender.settle();
    await settled();
    expect(sender.groups).toEqual([["first"], ["x"]]);
    sender.settle();
    await settled();
    expect(sender.groups).toEqual([["first"], ["x"], ["a1"]]);
    sender.settle();
    await settled();
    expect(sender.groups).toEqual([["first"], ["x"], ["a1"], ["a2"]]);
  });

  it("a write of a key in flight waits for it to settle, even when others go past it, hung or full", async () => {
    const sender = heldSender();
    const group = new GroupCommit(sender.send, limits);
    void group.submit(write("a1", { key: "a" }));
    // A whole statement's worth goes at once, and the hung a1's patience runs out: a2 waits for a1 all the same.
    for (const item of [write("a2", { key: "a" }), write("b"), write("c"), write("d"), write("e")]) void group.submit(item);
    await settled();
    expect(sender.groups).toEqual([["a1"], ["b", "c", "d", "e"]]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sender.groups).toEqual([["a1"], ["b", "c", "d", "e"]]);
    sender.settle();
    await settled();
    expect(sender.groups).toEqual([["a1"], ["b", "c", "d", "e"], ["a2"]]);
  });

  it("caps a statement's size: what does not fit goes in the next, and a write larger than the cap goes alone", async () => {
    const sender = heldSender();
    const group = await grouping(sender);
    for (const [id, size] of [["big", 150], ["x", 60], ["y", 60]] as const) void group.submit(write(id, { size }));
    await settled();
    expect(sender.groups).toEqual([["big"]]);
    sender.settle();
    await settled();
    expect(sender.groups).toEqual([["big"], ["x"]]);
    sender.settle();
    await settled();
    expect(sender.groups).toEqual([["big"], ["x"], ["y"]]);
  });

  it("rejects a write whose signal aborted while it waited, with the reason, and sends the others", async () => {
    const sender = heldSender();
    const group = new GroupCommit(sender.send, limits);
    void group.submit(write("a"));
    const controller = new AbortController();
    const aborted = group.submit(write("b", { signal: controller.signal }));
    const kept = group.submit(write("c"));
    const reason = new Error("stop");
    controller.abort(reason);
    sender.settle();
    await expect(aborted).rejects.toBe(reason);
    await settled();
    expect(sender.groups).toEqual([["a"], ["c"]]);
    sender.settle();
    await expect(kept).resolves.toBe(true);
  });

  it("fails every write of a statement whose sender rejects, and goes on with the next", async () => {
    const sender = heldSender();
    const group = await grouping(sender);
    const results = [group.submit(write("a")), group.submit(write("b"))];
    await settled();
    const next = group.submit(write("c"));
    sender.settle(new Error("connection lost"));
    for (const result of results) await expect(result).rejects.toThrow("connection lost");
    await settled();
    expect(sender.groups).toEqual([["a", "b"], ["c"]]);
    sender.settle();
    await expect(next).resolves.toBe(true);
  });

  it("fails the writes of a sender that throws instead of rejecting, alone or together, and goes on", async () => {
    const thrown = new Error("thrown, not rejected");
    let throwing = true;
    const sender = heldSender();
    const throwsFirst = <A extends unknown[], R>(send: (...args: A) => R) => (...args: A): R => {
      if (throwing) throw thrown;
      return send(...args);
    };
    const group = new GroupCommit({ alone: throwsFirst(sender.send.alone), together: throwsFirst(sender.send.together) }, limits);
    // Alone: submit rejects rather than throws, and the statement does not stay in flight.
    await expect(group.submit(write("alone"))).rejects.toBe(thrown);
    // Together: behind a statement in flight, then sent as a group that throws.
    throwing = false;
    void group.submit(write("first"));
    const together = [group.submit(write("a")), group.submit(write("b"))];
    throwing = true;
    sender.settle();
    for (const result of together) await expect(result).rejects.toBe(thrown);
    await settled();
    // Nothing is left counted in flight: the next write goes within a tick, not after the patience.
    throwing = false;
    const next = group.submit(write("next"));
    await settled();
    expect(sender.groups).toEqual([["first"], ["next"]]);
    sender.settle();
    await expect(next).resolves.toBe(true);
  });

  it("fails a write its statement reported no outcome for, rather than leaving it pending", async () => {
    const sender = heldSender();
    const group = await grouping(sender);
    const results = [group.submit(write("a")), group.submit(write("b"))];
    await settled();
    sender.settle([true]);
    await expect(results[0]).resolves.toBe(true);
    await expect(results[1]).rejects.toThrow(/no outcome/);
  });
});
