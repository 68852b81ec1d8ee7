import fc from "fast-check";
import { describe, it, expect } from "vitest";
import { createFoundry, createSmith, createWorkflow, delegate, errorHandlingMiddleware, forEach, idempotencyKeyOf, timeoutMiddleware } from "../src/index.js";
import { deferred } from "./support/promises.js";
import { MemoryPersistenceProvider, usePersistence } from "../src/persistence/index.js";

const loneHigh = "Zoë 😀".slice(0, 5);

// Strings of any UTF-16 code units, lone surrogates included, with the surrogate range favoured.
const anyUnits = fc.string({ unit: fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0xd7f0, max: 0xe000 })).map((code) => String.fromCharCode(code)) });

describe("idempotencyKeyOf", () => {
  it("keeps the key it always had for well-formed strings", () => {
    expect(idempotencyKeyOf({ instanceId: "order 42/ü", workflowKey: "Pay-v1" }, 3, "charge 😀")).toBe("order%2042%2F%C3%BC/Pay-v1/3/charge%20%F0%9F%98%80");
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.string({ unit: "binary" }), fc.nat(), (instanceId, workflowKey, index) => {
        expect(idempotencyKeyOf({ instanceId, workflowKey }, index, instanceId)).toBe(
          `${encodeURIComponent(instanceId)}/${encodeURIComponent(workflowKey)}/${index}/${encodeURIComponent(instanceId)}`,
        );
      }),
    );
  });

  it("returns a key for lone surrogates in every part, escaped as %u", () => {
    expect(idempotencyKeyOf({ instanceId: loneHigh, workflowKey: "\uDC00w" }, 0, "a\uD83D")).toBe("Zo%C3%AB%20%uD83D/%uDC00w/0/a%uD83D");
  });

  it("gives different keys to different instances, whatever their characters", () => {
    const distinct = ["\uD800", "\uDC00", "\uDC00\uD800", "\uD800\uDC00", "%uD800", "%25uD800", "\uD800a", "a\uD800"];
    const keys = distinct.map((instanceId) => idempotencyKeyOf({ instanceId, workflowKey: "w" }, 0));
    expect(new Set(keys).size).toBe(distinct.length);
    fc.assert(
      fc.property(anyUnits, anyUnits, anyUnits, anyUnits, (a1, a2, b1, b2) => {
        fc.pre(a1 !== b1 || a2 !== b2);
        expect(idempotencyKeyOf({ instanceId: a1, workflowKey: a2 }, 0)).not.toBe(idempotencyKeyOf({ instanceId: b1, workflowKey: b2 }, 0));
      }),
    );
  });

  it.each([
    [null, undefined, /identity must be an object \{ instanceId, workflowKey \}, got null/],
    ["order-1", undefined, /identity must be an object/],
    [{ instanceId: 42, workflowKey: "w" }, undefined, /identity\.instanceId must be a string/],
    [{ instanceId: "i", workflowKey: undefined }, undefined, /identity\.workflowKey must be a string/],
    [{ instanceId: "i", workflowKey: "w" }, 7, /suffix must be a string/],
    [{ instanceId: "i", workflowKey: "w" }, null, /suffix must be a string, got null/],
  ])("rejects a part that is not a string with a TypeError naming it (%o, suffix %s)", (identity, suffix, message) => {
    expect(() => idempotencyKeyOf(identity as never, 0, suffix as never)).toThrow(TypeError);
    expect(() => idempotencyKeyOf(identity as never, 0, suffix as never)).toThrow(message);
  });
});

describe("foundry.idempotencyKey()", () => {
  it("returns the same key on every run for an instance id with a lone surrogate", async () => {
    const seen: string[] = [];
    const foundry = createFoundry("Pay", { executionId: loneHigh }).withOperation("charge", (_, running) => {
      seen.push(running.idempotencyKey(), running.idempotencyKey("refund\uDE00"));
    });
    await foundry.forge();
    await foundry.forge();
    expect(seen).toEqual(["Zo%C3%AB%20%uD83D/Pay/0", "Zo%C3%AB%20%uD83D/Pay/0/refund%uDE00", "Zo%C3%AB%20%uD83D/Pay/0", "Zo%C3%AB%20%uD83D/Pay/0/refund%uDE00"]);
  });

  it("in a restore is the key of the operation being restored, in the run that failed and in one that resumes its compensation", async () => {
    const keys: string[] = [];
    const fail = { now: true };
    const workflow = createWorkflow("order")
      .withOperation("charge", (_input, foundry) => void keys.push(`charge ${foundry.idempotencyKey()}`), (_data, foundry) => void keys.push(`refund ${foundry.idempotencyKey()} ${foundry.currentOperation?.name}`))
      .withOperation("reserve", (_input, foundry) => void keys.push(`reserve ${foundry.idempotencyKey()}`), (_data, foundry) => {
        keys.push(`release ${foundry.idempotencyKey()}`);
        if (fail.now) throw new Error("stock service down");
      })
      .withOperation("ship", () => {
        throw new Error("no courier");
      })
      .build();
    const provider = new MemoryPersistenceProvider();
    const foundry = () => usePersistence(createFoundry("orders", { executionId: "e1" }), provider);
    // failFast: the failed release stops the compensation, which a later run resumes.
    await createSmith({ failFastCompensation: true }).forge(workflow, foundry()).catch(() => undefined);
    expect(keys).toEqual(["charge e1/order/0", "reserve e1/order/1", "release e1/order/1"]);
    expect(provider.tryLoad("e1", workflow.id)).toMatchObject({ status: "compensating" });
    fail.now = false;
    keys.length = 0;
    await createSmith().forge(workflow, foundry()).catch(() => undefined);
    expect(keys).toEqual(["release e1/order/1", "refund e1/order/0 charge"]);
  });

  it("in a restore is that operation's key on the foundry the restore closed over too, live and resumed", async () => {
    const keys: string[] = [];
    const fail = { now: true };
    const provider = new MemoryPersistenceProvider();
    const foundry = usePersistence(createFoundry("orders", { executionId: "e1" }), provider);
    const workflow = createWorkflow("order")
      .withOperation("charge", () => "pay-1", () => void keys.push(`refund ${foundry.idempotencyKey()} ${foundry.currentOperation?.name}`))
      .withOperation("reserve", () => "r-1", () => {
        keys.push(`release ${foundry.idempotencyKey()} ${foundry.currentOperation?.name}`);
        if (fail.now) throw new Error("stock service down");
      })
      .withOperation("ship", () => {
        throw new Error("no courier");
      })
      .build();
    await createSmith({ failFastCompensation: true }).forge(workflow, foundry).catch(() => undefined);
    expect(keys).toEqual(["release e1/order/1 reserve"]);
    fail.now = false;
    keys.length = 0;
    await createSmith().forge(workflow, foundry).catch(() => undefined);
    expect(keys).toEqual(["release e1/order/1 reserve", "refund e1/order/0 charge"]);
  });

  it("gives each forEach child a key of its own, the same in its restore, apart from any key the forEach's own operation makes", async () => {
    const keys: string[] = [];
    const send = (to: string) =>
      delegate(
        `mail-${to}`,
        (_input, foundry) => void keys.push(`${to} ${foundry.idempotencyKey()} ${foundry.idempotencyKey("receipt")}`),
        (_data, foundry) => void keys.push(`recall ${to} ${foundry.idempotencyKey()}`),
      );
    const workflow = createWorkflow("newsletter")
      .addOperation(forEach("emails", [send("alice"), send("bob")], { concurrency: 1 }))
      .withOperation("fail", (_input, foundry) => {
        keys.push(`fail ${foundry.idempotencyKey("#0")}`);
        throw new Error("stop");
      })
      .build();
    await createSmith().forge(workflow, createFoundry("n", { executionId: "e1" })).catch(() => undefined);
    expect(keys).toEqual([
      "alice e1/newsletter/0/#0 e1/newsletter/0/#0/receipt",
      "bob e1/newsletter/0/#1 e1/newsletter/0/#1/receipt",
      "fail e1/newsletter/1/%230",
      "recall bob e1/newsletter/0/#1",
      "recall alice e1/newsletter/0/#0",
    ]);
  });

  it("lets a forEach child use its foundry as the foundry itself: properties, logger and the rest", async () => {
    const seen: unknown[] = [];
    const foundry = createFoundry("n", { executionId: "e2", properties: { count: 1 } }).addOperation(
      forEach("each", [
        delegate("read", (_input, child) => {
          child.properties.count += 1;
          seen.push(child.name, child.executionId, typeof child.logger.info);
        }),
      ]),
    );
    await foundry.forge();
    expect(seen).toEqual(["n", "e2", "function"]);
    expect(foundry.properties.count).toBe(2);
  });

  it("of an operation a timeout gave up on keeps its own value while a restore runs meanwhile", async () => {
    const restoreStarted = deferred();
    const restoreGate = deferred();
    const lateCharge = deferred();
    const charged = deferred<string>();
    const workflow = createWorkflow("pay")
      .withOperation("reserve", () => "reserved", async () => {
        restoreStarted.resolve();
        await restoreGate.promise;
      })
      .withOperation("charge", async (_input, foundry) => {
        await lateCharge.promise; // ignores its signal
        charged.resolve(foundry.idempotencyKey());
      })
      .build();
    const running = createSmith().forge(workflow, createFoundry("payments", { executionId: "e-1" }).use(timeoutMiddleware(10))).catch(() => undefined);
    await restoreStarted.promise;
    lateCharge.resolve();
    expect(await charged.promise).toBe("e-1/pay/1");
    restoreGate.resolve();
    await running;
  });

  it("of an operation a timeout gave up on stays its own, with its currentOperation, once the run moved on to the next operation", async () => {
    const late = deferred();
    const seen = deferred<{ key: string; operation: unknown }>();
    const nextStarted = deferred();
    const finish = deferred();
    const foundry = createFoundry("payments", { executionId: "e-1" })
      .use(errorHandlingMiddleware(() => "gave up"))
      .use(timeoutMiddleware(10))
      .withOperation("charge", async (_input, f) => {
        await late.promise; // ignores its signal
        seen.resolve({ key: f.idempotencyKey(), operation: f.currentOperation });
      })
      .withOperation("ship", async () => {
        nextStarted.resolve();
        await finish.promise;
        return "shipped";
      });
    const run = foundry.forge();
    await nextStarted.promise;
    late.resolve();
    expect(await seen.promise).toEqual({ key: "e-1/payments/0", operation: { name: "charge", index: 0 } });
    finish.resolve();
    expect(await run).toBe("shipped");
  });
});
