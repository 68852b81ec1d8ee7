import { describe, expect, it } from "vitest";
import { SetupOnce, codecOption, isAbortOf, providerOptions, requireIdentifier, throwIfAborted, untilAborted } from "../../../src/persistence/providers/shared.js";
import { defaultSnapshotCodec } from "../../../src/persistence/codec/codec.js";

describe("SetupOnce", () => {
  it("makes a synchronous setup once it succeeded, and again after it threw", () => {
    let calls = 0;
    const setup = new SetupOnce(() => {
      calls++;
      if (calls === 1) throw new Error("busy");
      return { made: calls };
    });
    expect(() => setup.get()).toThrow("busy");
    expect(setup.done).toBe(false);
    expect(setup.get()).toEqual({ made: 2 });
    expect(setup.get()).toEqual({ made: 2 });
    expect(setup.done).toBe(true);
    expect(calls).toBe(2);
  });

  it("forgets a rejected setup so that the next call tries again, and keeps a resolved one", async () => {
    let calls = 0;
    const setup = new SetupOnce(() => (++calls === 1 ? Promise.reject(new Error("refused")) : Promise.resolve()));
    const first = setup.get();
    expect(setup.get()).toBe(first); // a concurrent caller shares the attempt under way
    await expect(first).rejects.toThrow("refused");
    await setup.get();
    expect(setup.done).toBe(true);
    await setup.get();
    expect(calls).toBe(2);
  });

  it("keeps what set() gives it, as migrate() does, without making its own", async () => {
    let calls = 0;
    const setup = new SetupOnce<Promise<void>>(() => Promise.resolve(void calls++));
    setup.set(Promise.resolve());
    await setup.get();
    expect(calls).toBe(0);
    expect(setup.done).toBe(true);
  });
});

describe("abort handling", () => {
  it("throws an Error reason as it is, and a non-Error reason as an Error whose cause it is", () => {
    const reason = new Error("stop");
    expect(() => throwIfAborted(AbortSignal.abort(reason))).toThrow(reason);
    const signal = AbortSignal.abort("stop as text");
    let thrown: unknown;
    try {
      throwIfAborted(signal);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).message).toBe("stop as text");
    expect(isAbortOf(thrown, signal)).toBe(true);
    expect(isAbortOf(new Error("stop as text"), signal)).toBe(false);
    expect(() => throwIfAborted(new AbortController().signal)).not.toThrow();
  });

  it("rejects a wait with the reason once the signal aborts, leaving the work to go on", async () => {
    const controller = new AbortController();
    let finish = (): void => undefined;
    const work = new Promise<string>((resolve) => (finish = () => resolve("done")));
    const waited = untilAborted(work, controller.signal);
    controller.abort(new Error("gave up"));
    await expect(waited).rejects.toThrow("gave up");
    finish();
    await expect(work).resolves.toBe("done");
    await expect(untilAborted(Promise.resolve(1), undefined)).resolves.toBe(1);
  });
});

describe("option checks", () => {
  const where = "SomeProvider(options)";
  const reserved = { pattern: /^sys_/i, prefix: "sys_", owner: "the database reserves for itself" };

  it("refuses an options bag that is not an object, or holds an unknown key, naming the provider", () => {
    expect(() => providerOptions("x", where, ["client"])).toThrow('SomeProvider(options): options must be an object, got "x"');
    expect(() => providerOptions({ clinet: 1 }, where, ["client"])).toThrow('SomeProvider(options): unknown option "clinet" (known: client)');
    expect(providerOptions(undefined, where, ["client"])).toEqual({});
  });

  it("defaults the codec and refuses one without encode and decode", () => {
    expect(codecOption(undefined, where)).toBe(defaultSnapshotCodec);
    expect(() => codecOption({ encode: String }, where)).toThrow("SomeProvider(options): options.codec must be an object with encode and decode functions");
  });

  it("accepts a plain identifier of up to 63 characters and refuses others and reserved names, naming the option", () => {
    expect(requireIdentifier("a".repeat(63), "tableName", where, reserved)).toBe("a".repeat(63));
    for (const bad of ["a".repeat(64), "1table", "my-table", "", 7]) {
      expect(() => requireIdentifier(bad, "tableName", where, reserved)).toThrow(/SomeProvider\(options\): options\.tableName must match/);
    }
    expect(() => requireIdentifier("SYS_x", "schema", where, reserved)).toThrow('options.schema must not start with "sys_", which the database reserves for itself, got "SYS_x"');
  });
});
