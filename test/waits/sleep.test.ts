import { describe, expect, it } from "vitest";
import { action, conditional, createFoundry, delay, createSmith, createWorkflow, forEach, isSuspended, sleep, sleepUntil, waitForEvent, type WorkflowSuspendedError } from "../../src/index.js";
import { MemoryPersistenceProvider, createRecoveryCoordinator, usePersistence } from "../../src/persistence/index.js";
import { createTestClock } from "../../src/persistence/testing/index.js";

const day = 86_400_000;

function sleeper(ran: string[]) {
  return createWorkflow("sleeper")
    .addOperation(action("before", () => void ran.push("before")))
    .addOperation(sleep("nap", 30 * day))
    .addOperation(action("after", () => void ran.push("after")))
    .build();
}

async function forgeOnce(provider: MemoryPersistenceProvider, clock: ReturnType<typeof createTestClock>, ran: string[]): Promise<unknown> {
  const foundry = usePersistence(createFoundry("sleeper", { clock }), provider, { instanceId: "nap-1" });
  return createSmith().forge(sleeper(ran), foundry);
}

describe("sleep", () => {
  it("suspends a long sleep with its wake time stored, and a later run before it is due suspends again without running anything", async () => {
    const provider = new MemoryPersistenceProvider();
    const clock = createTestClock(Date.parse("2026-01-01T00:00:00Z"));
    const ran: string[] = [];
    const first = await forgeOnce(provider, clock, ran).catch((error: unknown) => error);
    expect(isSuspended(first)).toBe(true);
    expect((first as WorkflowSuspendedError).wakeAt?.toISOString()).toBe("2026-01-31T00:00:00.000Z");
    const stored = provider.tryLoad("nap-1", sleeper([]).id);
    expect(stored).toMatchObject({ status: "waiting", nextOperationIndex: 1, wakeAt: "2026-01-31T00:00:00.000Z" });
    expect(stored?.leaseExpiresAt).toBeUndefined();
    clock.advance(29 * day);
    const second = await forgeOnce(provider, clock, ran).catch((error: unknown) => error);
    expect((second as WorkflowSuspendedError).wakeAt?.toISOString()).toBe("2026-01-31T00:00:00.000Z");
    clock.advance(day);
    await forgeOnce(provider, clock, ran);
    expect(ran).toEqual(["before", "after"]);
    expect(provider.tryLoad("nap-1", sleeper([]).id)).toBeUndefined();
  });

  it("keeps the run's input when a sleep at operation 0 suspends: the coordinator that wakes it passes it on, as the sleep does in process", async () => {
    const provider = new MemoryPersistenceProvider();
    const clock = createTestClock(Date.parse("2026-01-01T00:00:00Z"));
    const workflow = createWorkflow("cool-off")
      .addOperation(sleep("cool-off", day))
      .withOperation("use", (input: unknown) => `got ${JSON.stringify(input)}`)
      .build();
    const suspended = await createSmith()
      .forge(workflow, usePersistence(createFoundry("cool-off", { clock }), provider, { instanceId: "order-42" }), { input: { order: 42 } })
      .catch((error: unknown) => error);
    expect(isSuspended(suspended)).toBe(true);
    expect(provider.tryLoad("order-42", workflow.id)).toMatchObject({ status: "waiting", nextOperationIndex: 0, lastOutput: { order: 42 } });
    clock.advance(day);
    const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow, clock });
    expect((await coordinator.resumeAll()).resumed.map((outcome) => outcome.output)).toEqual(['got {"order":42}']);
  });

  it("suspends a sleep at operation 0 all the same when the run's input cannot be stored, keeping none", async () => {
    const provider = new MemoryPersistenceProvider();
    const clock = createTestClock(Date.parse("2026-01-01T00:00:00Z"));
    class Order {
      constructor(readonly id: number) {}
    }
    const workflow = createWorkflow("cool-off").addOperation(sleep("cool-off", day)).withOperation("use", (input: unknown) => input).build();
    const suspended = await createSmith()
      .forge(workflow, usePersistence(createFoundry("cool-off", { clock }), provider, { instanceId: "order-7" }), { input: new Order(7) })
      .catch((error: unknown) => error);
    expect(isSuspended(suspended)).toBe(true);
    const stored = provider.tryLoad("order-7", workflow.id);
    expect(stored).toMatchObject({ status: "waiting", nextOperationIndex: 0 });
    expect(stored && "lastOutput" in stored).toBe(false);
  });

  it("starts a record at operation 0 with the input forge() is given when nothing stored one (an enqueued instance)", async () => {
    const provider = new MemoryPersistenceProvider();
    const workflow = createWorkflow("enqueued").withOperation("echo", (input: unknown) => input).build();
    await createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow }).enqueue(workflow, { instanceId: "e-1" });
    expect(await createSmith().forge(workflow, usePersistence(createFoundry("enqueued"), provider, { instanceId: "e-1" }), { input: "given" })).toBe("given");
  });

  it("refuses, when the operation is made, an instant that is not a Date, a date string or a number (null and booleans convert to the epoch)", () => {
    for (const [until, shown] of [[null, "null"], [true, "true"], [false, "false"], [undefined, "undefined"], [[], ""], ["not a date", "not a date"], [Number.NaN, "NaN"]]) {
      expect(() => sleepUntil("deadline", until as any)).toThrow(new TypeError(`sleepUntil "deadline": until must be a valid date, got ${shown as string}`));
    }
    expect(sleepUntil("deadline", 0).wait).toEqual({ kind: "until", at: 0 });
    expect(sleepUntil("deadline", "2026-01-01T00:00:00.000Z").wait).toEqual({ kind: "until", at: Date.UTC(2026, 0, 1) });
  });

  it("refuses, when the operation is made, a wait longer than a century, whose wake time would not be a date", () => {
    const century = 3_155_760_000_000;
    expect(() => sleep("forever", Number.MAX_SAFE_INTEGER)).toThrow(new TypeError(`sleep "forever": ms must be at most ${century} (100 years), got ${Number.MAX_SAFE_INTEGER}`));
    expect(() => waitForEvent("approval", "approved", { timeoutMs: century + 1 })).toThrow(/options\.timeoutMs must be at most 3155760000000 \(100 years\)/);
    expect(sleep("long", century).wait).toEqual({ kind: "sleep", ms: century });
  });

  it("refuses a wait nested in a conditional or a forEach, whose step could neither store its wake time nor suspend", () => {
    const nap = sleep("nap", 30 * day);
    expect(() => conditional("if-large", () => true, nap)).toThrow(new TypeError(`conditional "if-large": whenTrue: "nap" is a wait, which cannot be nested in another operation; add it to the workflow itself, where it is durable (delay() pauses within an operation)`));
    expect(() => conditional("if-large", () => true, action("skip", () => undefined), waitForEvent("approval", "approved"))).toThrow(/whenFalse: "approval" is a wait/);
    expect(() => forEach("both", [action("a", () => undefined), waitForEvent("b", "approved-b")])).toThrow(/forEach "both": children\[1\]: "b" is a wait/);
    // An in-process pause is what a composite operation can hold.
    expect(conditional("if-large", () => true, delay("cool-off", 10)).name).toBe("if-large");
  });

  it("waits in process when little is left, on the foundry's clock", async () => {
    const provider = new MemoryPersistenceProvider();
    const clock = createTestClock();
    const started = clock.now();
    const workflow = createWorkflow("short").addOperation(sleep("blink", 500)).addOperation(sleepUntil("later", started + 900)).build();
    const foundry = usePersistence(createFoundry("short", { clock }), provider, { instanceId: "short-1" });
    await expect(createSmith().forge(workflow, foundry, { input: 7 })).resolves.toBe(7);
    expect(clock.now() - started).toBe(900);
  });
});
