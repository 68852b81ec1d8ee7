import { runInNewContext } from "node:vm";
import { describe, it, expect } from "vitest";
import { createFoundry, createSmith, createWorkflow, errorHandlingMiddleware, FoundryBusyError, loggingMiddleware, timeoutMiddleware, timingMiddleware, type Operation } from "../src/index.js";
import { deferred } from "./support/promises.js";

describe("createFoundry", () => {
  it.each([
    ["an empty name", () => createFoundry("")],
    ["a blank name", () => createFoundry("   ")],
    ["a non-string name", () => createFoundry(42 as any)],
  ])("throws a TypeError naming the argument for %s", (_, call) => {
    expect(call).toThrow(TypeError);
    expect(call).toThrow("createFoundry(name)");
  });

  it("throws a TypeError naming an unknown init option", () => {
    expect(() => createFoundry("orders", { propertes: {} } as any)).toThrow(TypeError);
    expect(() => createFoundry("orders", { propertes: {} } as any)).toThrow('unknown option "propertes"');
  });

  it("throws a TypeError naming an empty executionId and non-object properties", () => {
    expect(() => createFoundry("orders", { executionId: "" })).toThrow(/executionId/);
    expect(() => createFoundry("orders", { properties: "nope" as any })).toThrow(/properties must be an object/);
  });

  it("refuses a property bag that is not a plain object, whose entries, items or class the copy would lose without a word", () => {
    class Cart {
      items: string[] = [];
    }
    for (const [bag, kind] of [[new Map([["total", 1]]), "a Map instance"], [[1, 2], "an array"], [new Cart(), "a Cart instance"], [new Date(0), "a Date instance"]] as const) {
      expect(() => createFoundry("orders", { properties: bag as any })).toThrow(new TypeError(`createFoundry(name, init).properties must be a plain object of named properties, got ${kind}: put it under a key ({ items: ... })`));
    }
    // A null-prototype object, and a plain object of another realm, are plain objects.
    expect(createFoundry("orders", { properties: Object.assign(Object.create(null) as object, { total: 1 }) }).properties).toEqual({ total: 1 });
    expect(createFoundry("orders", { properties: runInNewContext("({ total: 2 })") as object }).properties).toEqual({ total: 2 });
  });

  it("throws a TypeError naming a logger that lacks a console-like method, and accepts one whose methods are inherited", () => {
    expect(() => createFoundry("orders", { logger: "console" as any })).toThrow(/createFoundry\(name, init\)\.logger .*debug, info, warn, error missing/);
    expect(() => createFoundry("orders", { logger: { ...console, warn: undefined } as any })).toThrow(/warn missing/);
    expect(() => createSmith({ logger: 42 as any })).toThrow(/createSmith\(options\)\.logger/);
    class Pinoish {
      debug(): void {}
      info(): void {}
      warn(): void {}
      error(): void {}
    }
    expect(createFoundry("orders", { logger: new Pinoish() }).logger).toBeInstanceOf(Pinoish);
  });

  it("defaults executionId to a fresh UUID and keeps a given one", () => {
    const a = createFoundry("orders");
    const b = createFoundry("orders");
    expect(a.executionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(a.executionId).not.toBe(b.executionId);
    expect(createFoundry("orders", { executionId: "exec-1" }).executionId).toBe("exec-1");
  });

  it("copies init.properties all the way down instead of aliasing them", () => {
    const init = { orderId: "A-1", order: { items: [{ sku: "x" }] } };
    const foundry = createFoundry("orders", { properties: init });

    init.order.items[0]!.sku = "changed by caller";
    init.order.items.push({ sku: "added by caller" });
    foundry.properties.orderId = "changed by foundry";

    expect(foundry.properties).not.toBe(init);
    expect(foundry.properties.order.items).toEqual([{ sku: "x" }]);
    expect(init.orderId).toBe("A-1");
  });

  it("copies init.properties that hold a cycle, keeping the cycle within the copy", () => {
    const order: Record<string, unknown> = { id: "A-1" };
    order.parent = { child: order };
    const foundry = createFoundry("orders", { properties: { order } });
    const copied = foundry.properties.order as { parent: { child: unknown } };
    expect(copied).not.toBe(order);
    expect(copied.parent.child).toBe(copied);
  });

  it("copies the built-in values a snapshot stores too: Map (its values), Set, Date, typed arrays and Buffers", () => {
    const key = { id: "k" };
    const init = { map: new Map<unknown, { n: number }>([["a", { n: 1 }], [key, { n: 2 }]]), set: new Set(["x"]), at: new Date(1_000), floats: new Float64Array([1.5]), bytes: Buffer.from([1, 2]) };
    const { properties } = createFoundry("orders", { properties: init });
    init.map.get("a")!.n = 9;
    init.map.set("b", { n: 3 });
    init.set.add("y");
    init.at.setTime(2_000);
    init.floats[0] = 9;
    init.bytes[0] = 9;
    expect([...properties.map.entries()]).toEqual([["a", { n: 1 }], [key, { n: 2 }]]);
    expect(properties.map.get(key)).toEqual({ n: 2 }); // keys are found by identity: kept as they are
    expect([[...properties.set], properties.at.getTime(), [...properties.floats]]).toEqual([["x"], 1_000, [1.5]]);
    expect([Buffer.isBuffer(properties.bytes), [...properties.bytes]]).toEqual([true, [1, 2]]);
  });

  it("copies a Map that holds itself into a Map that holds its copy", () => {
    const map = new Map<string, unknown>();
    map.set("self", map).set("nested", { map });
    const copied = createFoundry("orders", { properties: { map } }).properties.map;
    expect(copied).not.toBe(map);
    expect(copied.get("self")).toBe(copied);
    expect((copied.get("nested") as { map: unknown }).map).toBe(copied);
  });

  it("shares what only looks like those built-ins: subclasses, Proxies, views of shared memory", () => {
    class Registry extends Map<string, number> {
      lookup(key: string): number | undefined {
        return this.get(key);
      }
    }
    class Vec3 extends Float64Array {
      constructor() {
        super(3);
      }
    }
    const shared = new Int32Array(new SharedArrayBuffer(8));
    const init = { registry: new Registry([["a", 1]]), vector: new Vec3(), proxied: new Proxy(new Map([["a", 1]]), {}), dated: new Proxy(new Date(0), {}), shared };
    const { properties } = createFoundry("orders", { properties: init });
    for (const key of Object.keys(init) as (keyof typeof init)[]) expect(properties[key], key).toBe(init[key]);
    expect(properties.registry.lookup("a")).toBe(1);
  });

  it("lets a RangeError of the caller's own (a getter's) through as it is", () => {
    const order = {
      get price(): number {
        throw new RangeError("price out of range");
      },
    };
    expect(() => createFoundry("orders", { properties: { order } })).toThrow(new RangeError("price out of range"));
  });

  it("refuses properties nested too deeply to copy with a TypeError naming the foundry, not a stack overflow", () => {
    let deep: Record<string, unknown> = {};
    for (let level = 0; level < 100_000; level++) deep = { deep };
    expect(() => createFoundry("orders", { properties: { deep } })).toThrow(new TypeError('createFoundry("orders", init): init.properties nests too deeply to copy (Maximum call stack size exceeded)'));
  });

  it("starts with an empty property bag when init has no properties", () => {
    expect(createFoundry("orders").properties).toEqual({});
  });
});

describe("Foundry", () => {
  it("throws a TypeError naming the bad argument when an operation or middleware is not a function", () => {
    const foundry = createFoundry("orders");
    expect(() => foundry.withOperation("x", 42 as any)).toThrow(TypeError);
    expect(() => foundry.withOperation("x", 42 as any)).toThrow(/"x".*forge must be a function, got 42/);
    expect(() => foundry.withOperation("x", () => 1, "undo" as any)).toThrow(/restore must be a function/);
    expect(() => foundry.withOperation("", () => 1)).toThrow(TypeError);
    expect(() => foundry.addOperation({ name: "y" } as any)).toThrow(/forge must be a function/);
    expect(() => foundry.addOperation(null as any)).toThrow(TypeError);
    expect(() => foundry.use("nope" as any)).toThrow(TypeError);
    expect(() => foundry.use("nope" as any)).toThrow('orders.use(middleware) must be a function, got "nope"');
    expect(foundry.operations).toEqual([]);
    expect(foundry.middleware).toEqual([]);
  });

  it("refuses a middleware factory passed uncalled with a TypeError saying how to call it, where it would run no operation", () => {
    const foundry = createFoundry("orders");
    const factories = [[loggingMiddleware, "loggingMiddleware()"], [timingMiddleware, "timingMiddleware(record)"], [timeoutMiddleware, "timeoutMiddleware(ms)"], [errorHandlingMiddleware, "errorHandlingMiddleware(onError)"]] as const;
    for (const [factory, call] of factories) {
      const name = call.slice(0, call.indexOf("("));
      expect(() => foundry.use(factory as any)).toThrow(new TypeError(`orders.use(middleware): got the factory ${name} itself; pass the middleware it returns: use(${call})`));
      expect(() => createSmith().use(factory as any)).toThrow(`smith.use(middleware): got the factory ${name} itself`);
    }
    expect(foundry.middleware).toEqual([]);
    expect(() => foundry.use(loggingMiddleware())).not.toThrow();
  });

  it("rejects forge options with an unknown key or a signal that is not an AbortSignal", async () => {
    const foundry = createFoundry("orders").withOperation("a", () => 1);
    await expect(foundry.forge({ inptu: 1 } as any)).rejects.toThrow(TypeError);
    await expect(foundry.forge({ inptu: 1 } as any)).rejects.toThrow('unknown option "inptu"');
    await expect(foundry.forge({ signal: {} as any })).rejects.toThrow(/signal must be an AbortSignal/);
  });

  it("exposes its operations as a copy that callers cannot change", () => {
    const foundry = createFoundry("orders").withOperation("a", () => 1);
    (foundry.operations as Operation[]).length = 0;
    expect(foundry.operations.map((op) => op.name)).toEqual(["a"]);
  });

  it("rejects a second concurrent forge with FoundryBusyError (CONCURRENT_RUN) and lets the first finish", async () => {
    const release = deferred<string>();
    const foundry = createFoundry("orders").withOperation("slow", () => release.promise);

    const first = foundry.forge();
    const second: unknown = await foundry.forge().catch((e: unknown) => e);
    expect(second).toBeInstanceOf(FoundryBusyError);
    expect(second).toMatchObject({ code: "CONCURRENT_RUN", workflowName: "orders" });

    release.resolve("done");
    await expect(first).resolves.toBe("done");
    await expect(foundry.forge()).resolves.toBe("done");
  });

  it("refuses a smith run while a bare run is in progress", async () => {
    const release = deferred();
    const foundry = createFoundry("orders").withOperation("slow", () => release.promise);
    const workflow = createWorkflow("other").withOperation("x", () => 1).build();

    const first = foundry.forge();
    await expect(createSmith().forge(workflow, foundry)).rejects.toMatchObject({ code: "CONCURRENT_RUN" });
    release.resolve();
    await first;
  });

  it("throws FoundryBusyError (MODIFIED_WHILE_RUNNING) when changed while running", async () => {
    const changes: unknown[] = [];
    const foundry = createFoundry("orders");
    foundry.withOperation("changes itself", (_input, self) => {
      for (const change of [
        () => self.withOperation("late", () => 1),
        () => self.addOperation({ name: "late", forge: () => 1 }),
        () => self.use((_context, next) => next()),
      ]) {
        try {
          change();
        } catch (error) {
          changes.push(error);
        }
      }
    });

    await foundry.forge();
    expect(changes).toHaveLength(3);
    for (const error of changes) {
      expect(error).toBeInstanceOf(FoundryBusyError);
      expect(error).toMatchObject({ code: "MODIFIED_WHILE_RUNNING" });
    }
    // Each names the call that was made.
    expect((changes as Error[]).map((error) => /: (\w+)\(\) cannot change/.exec(error.message)?.[1])).toEqual(["withOperation", "addOperation", "use"]);
    expect(foundry.operations.map((op) => op.name)).toEqual(["changes itself"]);
    expect(foundry.middleware).toHaveLength(0);
  });

  it("names withOperation, not the operation it makes, when the name is missing", () => {
    const forge = () => 1;
    expect(() => createFoundry("orders").withOperation(forge as unknown as string, forge)).toThrow('orders.withOperation(name) must be a non-empty string, got function');
    expect(() => createWorkflow("order").withOperation("", forge)).toThrow('createWorkflow("order").withOperation(name) must be a non-empty string, got ""');
  });

  it("applies operations and middleware added between runs to the next run", async () => {
    const foundry = createFoundry("orders").withOperation("a", (input: number) => input + 1);
    await expect(foundry.forge({ input: 1 })).resolves.toBe(2);

    foundry.withOperation("b", (input: number) => input * 10).use(async (_context, next) => Number(await next()) + 1000);
    await expect(foundry.forge({ input: 1 })).resolves.toBe((1 + 1 + 1000) * 10 + 1000);
  });

  it("keeps only the user's keys in properties after a run of many operations", async () => {
    const foundry = createFoundry<Record<string, unknown>>("orders", { properties: { orderId: "A-1" } });
    for (let i = 0; i < 25; i++) foundry.withOperation(`step${i}`, (input: number) => input + 1);
    foundry.withOperation("mark", (input: number, f) => {
      f.properties.total = input;
    });

    await foundry.forge({ input: 0 });
    expect(Object.keys(foundry.properties).sort()).toEqual(["orderId", "total"]);
    expect(foundry.properties).toEqual({ orderId: "A-1", total: 25 });
  });

  it("reports the running operation as currentOperation and nothing outside a run", async () => {
    const seen: unknown[] = [];
    const foundry = createFoundry("orders");
    foundry
      .withOperation("a", (_input, f) => void seen.push(f.currentOperation))
      .withOperation("b", (_input, f) => void seen.push(f.currentOperation));

    expect(foundry.currentOperation).toBeUndefined();
    expect(foundry.isRunning).toBe(false);
    const run = foundry.forge();
    expect(foundry.isRunning).toBe(true);
    await run;
    expect(seen).toEqual([
      { name: "a", index: 0 },
      { name: "b", index: 1 },
    ]);
    expect(foundry.currentOperation).toBeUndefined();
    expect(foundry.isRunning).toBe(false);
  });
});

describe("Foundry.idempotencyKey", () => {
  const keysOf = async (executionId: string): Promise<string[]> => {
    const keys: string[] = [];
    const foundry = createFoundry("payments", { executionId });
    foundry
      .withOperation("charge", (_input, f) => void keys.push(f.idempotencyKey()))
      .withOperation("email", (_input, f) => void keys.push(f.idempotencyKey(), f.idempotencyKey("receipt")));
    await foundry.forge();
    await foundry.forge();
    return keys;
  };

  it("is the same for the same operation on every run with the same executionId", async () => {
    const keys = await keysOf("exec-1");
    expect(keys.slice(0, 3)).toEqual(keys.slice(3));
    expect(await keysOf("exec-1")).toEqual(keys);
  });

  it("differs between operations, suffixes and execution ids", async () => {
    const [charge, email, receipt] = await keysOf("exec-1");
    expect(new Set([charge, email, receipt]).size).toBe(3);
    const [otherCharge] = await keysOf("exec-2");
    expect(otherCharge).not.toBe(charge);
  });

  it("throws a TypeError outside a running operation", () => {
    expect(() => createFoundry("payments").idempotencyKey()).toThrow(TypeError);
  });

  it("differs between workflows run by a smith on the same foundry", async () => {
    const keys: string[] = [];
    const record = (_input: unknown, f: { idempotencyKey(): string }): void => void keys.push(f.idempotencyKey());
    const foundry = createFoundry("payments", { executionId: "exec-1" });
    const smith = createSmith();
    await smith.forge(createWorkflow("Pay").withVersion("1").withOperation("charge", record).build(), foundry);
    await smith.forge(createWorkflow("Pay").withVersion("1").withOperation("charge", record).build(), foundry);
    await smith.forge(createWorkflow("Pay").withVersion("2").withOperation("charge", record).build(), foundry);
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).not.toBe(keys[0]);
  });
});
