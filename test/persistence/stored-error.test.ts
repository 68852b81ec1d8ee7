import { describe, expect, it } from "vitest";
import { OperationFailedError, createFoundry, createSmith, createWorkflow } from "../../src/index.js";
import { MemoryPersistenceProvider, SnapshotCorruptedError, createSnapshotCodec, defaultSnapshotCodec, usePersistence, type StoredError } from "../../src/persistence/index.js";
import { validateSnapshot } from "../../src/persistence/snapshot.js";
import { storedError } from "../../src/persistence/stored-error.js";
import { rejectionOf } from "../support/promises.js";
import { snapshotFor, uniqueKeys } from "../support/run-snapshots.js";

// The error a run stores when its second operation throws `thrown`.
async function storedAfterThrowing(thrown: unknown): Promise<StoredError | undefined> {
  const provider = new MemoryPersistenceProvider();
  const keys = uniqueKeys("stored-error");
  const foundry = createFoundry("Charge")
    .withOperation("reserve", () => 1)
    .withOperation("charge", () => {
      throw thrown;
    });
  await rejectionOf(usePersistence(foundry, provider, keys).forge());
  const stored = provider.tryLoad(keys.instanceId, keys.workflowKey);
  expect(stored?.status).toBe("failed");
  return stored?.error;
}

describe("the error a failure record stores", () => {
  it("keeps the thrown error's stack and its cause chain, outermost first", async () => {
    const root = new RangeError("socket hang up");
    const thrown = new Error("card declined", { cause: new TypeError("issuer unreachable", { cause: root }) });
    const error = await storedAfterThrowing(thrown);
    expect(error).toEqual({
      name: "Error",
      message: "card declined",
      operationIndex: 1,
      operationName: "charge",
      stack: thrown.stack,
      cause: [
        { name: "TypeError", message: "issuer unreachable" },
        { name: "RangeError", message: "socket hang up" },
      ],
    });
  });

  it("cuts a huge stack to 4,000 characters, marked with its length", async () => {
    const thrown = new Error("deep");
    thrown.stack = `Error: deep\n${"    at frame (file.js:1:1)\n".repeat(2_000)}`;
    const error = await storedAfterThrowing(thrown);
    expect(error?.stack).toHaveLength(4_000);
    expect(error?.stack?.startsWith("Error: deep\n    at frame")).toBe(true);
    expect(error?.stack?.endsWith(`\n… (${thrown.stack.length} characters, cut)`)).toBe(true);
  });

  it("cuts a huge message (a gateway's HTML error page) to 4,000 characters, and a huge name to 1,000, marked with their length", async () => {
    const page = `<html>${"<p>Bad gateway</p>".repeat(6_000)}</html>`;
    const thrown = Object.assign(new Error(page), { name: "X".repeat(3_000) });
    const error = await storedAfterThrowing(thrown);
    expect(error?.message).toHaveLength(4_000);
    expect(error?.message.endsWith(`\n… (${page.length} characters, cut)`)).toBe(true);
    expect(error?.name).toHaveLength(1_000);
  });

  it("keeps a smith's compensation going when the error's message alone would outgrow the store's limit", async () => {
    const provider = new MemoryPersistenceProvider({ codec: createSnapshotCodec({ maxSnapshotBytes: 64 * 1024 }) });
    const keys = uniqueKeys("stored-error");
    const restored: unknown[] = [];
    const foundry = createFoundry("Reserve")
      .withOperation("reserve", () => "R-1", (output) => void restored.push(output))
      .withOperation("charge", () => {
        throw new Error(`<html>${"x".repeat(100_000)}</html>`);
      });
    const workflow = foundry.operations.reduce((built, operation) => built.addOperation(operation), createWorkflow("Reserve")).build();
    const run = usePersistence(createFoundry("Reserve"), provider, keys);
    await expect(createSmith().forge(workflow, run)).rejects.toBeInstanceOf(OperationFailedError);
    expect(restored).toEqual(["R-1"]);
    expect(provider.tryLoad(keys.instanceId, keys.workflowKey)).toBeUndefined();
  });

  it("keeps at most 5 causes, each message at most 1,000 characters, and stops at a cycle", async () => {
    const looped = new Error("a") as Error & { cause: unknown };
    looped.cause = new Error("x".repeat(5_000), { cause: looped });
    const error = await storedAfterThrowing(looped);
    expect(error?.cause).toHaveLength(5);
    expect(error?.cause?.map((link) => link.message.length)).toEqual([1_000, 1, 1_000, 1, 1_000]);
    expect(error?.cause?.[0]?.message.endsWith("(5000 characters, cut)")).toBe(true);
  });

  it("stores no stack for a thrown non-Error, and names a non-Error cause by its type", async () => {
    expect(await storedAfterThrowing({ code: 42 })).toEqual({ name: "object", message: '{"code":42}', operationIndex: 1, operationName: "charge" });
    const error = await storedAfterThrowing(new Error("wrapped", { cause: "a plain string" }));
    expect(error?.cause).toEqual([{ name: "string", message: "a plain string" }]);
  });

  it("is round-tripped by the codec", () => {
    const keys = uniqueKeys("stored-error-codec");
    const error: StoredError = { name: "Error", message: "m", operationIndex: 0, operationName: "op-0", stack: "Error: m\n    at x", cause: [{ name: "TypeError", message: "c" }] };
    const snapshot = snapshotFor(keys, ["op-0"], { status: "failed", error });
    const decoded = defaultSnapshotCodec.decode(defaultSnapshotCodec.encode(snapshot), { foundryExecutionId: keys.instanceId, workflowId: keys.workflowKey });
    expect(decoded.error).toEqual(error);
  });
});

describe("a failure whose error has fields that are not strings", () => {
  it("stores the message and name of an Error as strings, so the record loads and the retry runs", async () => {
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys("stored-error-fields");
    let fail = true;
    const make = () =>
      usePersistence(
        createFoundry("Order").withOperation("charge", () => {
          if (fail) throw Object.assign(new Error(), { message: 404, name: 42 });
          return "charged";
        }),
        provider,
        keys,
      );
    await expect(make().forge()).rejects.toBeInstanceOf(OperationFailedError);
    expect(provider.tryLoad(keys.instanceId, keys.workflowKey)?.error).toMatchObject({ name: "42", message: "404" });
    fail = false;
    await expect(make().forge()).resolves.toBe("charged");
  });

  it("stores a cause whose message is not a string, and the caller still sees the operation's own error", async () => {
    const thrown = new Error("charge failed", { cause: Object.assign(new Error(), { message: 500 }) });
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys("stored-error-cause");
    const foundry = createFoundry("Order").withOperation("charge", () => {
      throw thrown;
    });
    const error = await rejectionOf(usePersistence(foundry, provider, keys).forge());
    expect(error).toBeInstanceOf(OperationFailedError);
    expect((error as OperationFailedError).cause).toBe(thrown);
    expect(provider.tryLoad(keys.instanceId, keys.workflowKey)).toMatchObject({ status: "failed", error: { message: "charge failed", cause: [{ name: "Error", message: "500" }] } });
  });

  it("stores a placeholder for a name, message or stack whose getter throws", () => {
    const hostile = new Error("hidden");
    for (const field of ["stack", "name", "message"]) {
      Object.defineProperty(hostile, field, {
        get: () => {
          throw new Error(`${field} unreadable`);
        },
      });
    }
    const stored = storedError(new Error("outer", { cause: hostile }), 0, "charge");
    expect(stored.cause).toEqual([{ name: "Error", message: "(a value whose message could not be read)" }]);
    expect(storedError(hostile, 0, "charge")).toEqual({ name: "Error", message: "(a value whose message could not be read)", operationIndex: 0, operationName: "charge" });
  });

  it("stores and reports an Error's message that is no string as a thrown value of it is: an object as its JSON, undefined as the word", () => {
    const withMessage = (message: unknown) => Object.assign(new Error("replaced"), { message });
    const cases: [unknown, string][] = [[{ code: 7 }, '{"code":7}'], [[1, 2], "[1,2]"], [500, "500"], [null, "null"], [undefined, "undefined"]];
    for (const [message, text] of cases) {
      expect(storedError(withMessage(message), 0, "charge").message).toBe(text);
      expect(new OperationFailedError({ workflowName: "W", operationName: "charge", operationIndex: 0 }, withMessage(message)).message).toBe(`workflow "W", operation "charge" (#0) failed: ${text}`);
    }
  });

  it("records the failure of an operation that threw a revoked proxy, which refuses every reading", async () => {
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const provider = new MemoryPersistenceProvider();
    const keys = uniqueKeys("stored-error-revoked");
    const foundry = createFoundry("Order").withOperation("charge", () => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- operations may throw anything
      throw revoked.proxy;
    });
    const error = await rejectionOf(usePersistence(foundry, provider, keys).forge());
    expect(error).toBeInstanceOf(OperationFailedError);
    expect((error as OperationFailedError).cause).toBe(revoked.proxy);
    expect(provider.tryLoad(keys.instanceId, keys.workflowKey)).toMatchObject({ status: "failed", error: { name: "object", message: "(a value whose message could not be read)", operationName: "charge" } });
  });
});

describe("validating a stored error", () => {
  const keys = uniqueKeys("stored-error-shape");
  const storedKeys = { foundryExecutionId: keys.instanceId, workflowId: keys.workflowKey };
  const base = { name: "Error", message: "m", operationIndex: 0, operationName: "op-0" };
  const withError = (error: unknown): unknown => ({ ...snapshotFor(keys, ["op-0"], { status: "failed" }), error });

  it("accepts a record written before stack and cause were stored", () => {
    expect(validateSnapshot(withError(base), storedKeys).error).toEqual(base);
  });

  it.each([
    ["a stack that is not a string", { stack: 12 }, /error\.stack is not a string of at most 4000 characters/],
    ["a stack longer than a writer stores", { stack: "s".repeat(4_001) }, /error\.stack is not a string/],
    ["a cause that is not a list", { cause: { name: "Error", message: "c" } }, /error\.cause is not a list of at most 5 \{ name, message \}/],
    ["a cause link without a message", { cause: [{ name: "Error" }] }, /error\.cause is not a list/],
    ["more than 5 causes", { cause: Array.from({ length: 6 }, () => ({ name: "Error", message: "c" })) }, /error\.cause is not a list/],
    ["a cause message over 1,000 characters", { cause: [{ name: "Error", message: "c".repeat(1_001) }] }, /error\.cause is not a list/],
  ])("rejects %s", (_what, extra, problem) => {
    const validate = (): unknown => validateSnapshot(withError({ ...base, ...extra }), storedKeys);
    expect(validate).toThrow(SnapshotCorruptedError);
    expect(validate).toThrow(problem);
  });
});

describe("storedError", () => {
  it("unwraps an operation-failed wrapper from another copy of the package (known by its brand and code, not its class)", () => {
    const thrown = new TypeError("card declined");
    const wrapper = Object.assign(new Error('operation "charge" failed: card declined'), { code: "OPERATION_FAILED", cause: thrown });
    Object.defineProperty(wrapper, Symbol.for("workflowforge.error"), { value: true });
    expect(storedError(wrapper, 1, "charge")).toMatchObject({ name: "TypeError", message: "card declined", operationIndex: 1, operationName: "charge" });
  });
});
