import { SpanStatusCode, context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFoundry, errorHandlingMiddleware, OperationFailedError, timeoutMiddleware } from "../../src/index.js";
import { instrument } from "../../src/otel/index.js";
import { MemoryPersistenceProvider, usePersistence } from "../../src/persistence/index.js";
import { createHarness, parentOf } from "./harness.js";

class CardDeclined extends Error {
  readonly code = "CARD_DECLINED";
}

// Operations see their span as the active one only through a context manager, as in an app.
beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterAll(() => {
  context.disable();
});

describe("instrument(foundry)", () => {
  it("traces a run as one span with a child span per operation, in order", async () => {
    const otel = createHarness();
    const foundry = instrument(createFoundry("Order", { executionId: "order-1" }), otel.options);
    foundry.withOperation("reserve", (input: number) => input + 1).withOperation("charge", function chargeCard(input: number) {
      return input * 2;
    });
    expect(await foundry.forge({ input: 1 })).toBe(4);

    const [run] = otel.named("run Order");
    const operations = otel.spans().filter((span) => span.name.startsWith("operation "));
    expect(operations.map((span) => span.name)).toEqual(["operation reserve", "operation charge"]);
    expect(operations.map(parentOf)).toEqual([run?.spanContext().spanId, run?.spanContext().spanId]);
    expect(operations.map((span) => span.attributes["workflowforge.operation.index"])).toEqual([0, 1]);
    expect(operations[1]?.attributes["code.function.name"]).toBe("chargeCard");
    expect(run?.attributes).toMatchObject({
      "workflowforge.workflow.name": "Order",
      "workflowforge.instance.id": "order-1",
      "workflowforge.workflow.operations": 2,
      "workflowforge.run.compensates": false,
    });
    expect(run?.status.code).toBe(SpanStatusCode.UNSET);
    expect(parentOf(run!)).toBeUndefined();
  });

  it("records a failure on the operation's span with its code as error.type, and on the run's as the engine's code", async () => {
    const otel = createHarness();
    const foundry = instrument(createFoundry("Pay"), otel.options).withOperation("charge", () => {
      throw new CardDeclined("declined");
    });
    await expect(foundry.forge()).rejects.toBeInstanceOf(OperationFailedError);

    const [operation] = otel.named("operation charge");
    const [run] = otel.named("run Pay");
    expect(operation?.status).toEqual({ code: SpanStatusCode.ERROR, message: "declined" });
    expect(operation?.attributes["error.type"]).toBe("CARD_DECLINED");
    expect(operation?.events.map((event) => [event.name, event.attributes?.["exception.message"]])).toEqual([["exception", "declined"]]);
    expect(run?.status.code).toBe(SpanStatusCode.ERROR);
    expect(run?.attributes["error.type"]).toBe("OPERATION_FAILED");
  });

  it("makes each operation's span the active one inside it, under the span active when the run started", async () => {
    const otel = createHarness();
    const tracer = otel.tracerProvider.getTracer("app");
    const foundry = instrument(createFoundry("Nested"), otel.options).withOperation("call", async () => {
      await Promise.resolve();
      tracer.startSpan("http GET").end();
    });
    const request = tracer.startSpan("request");
    await context.with(trace.setSpan(context.active(), request), () => foundry.forge());
    request.end();

    const [run] = otel.named("run Nested");
    const [operation] = otel.named("operation call");
    const [inner] = otel.named("http GET");
    expect(parentOf(run!)).toBe(request.spanContext().spanId);
    expect(parentOf(inner!)).toBe(operation?.spanContext().spanId);
    expect(new Set(otel.spans().map((span) => span.spanContext().traceId)).size).toBe(1);
  });

  it("starts an operation's span no later than the spans started inside it, and no earlier than its run's, on the clock they take their start from", async () => {
    const otel = createHarness();
    const tracer = otel.tracerProvider.getTracer("app");
    const foundry = instrument(createFoundry("Clocked"), otel.options);
    for (let index = 0; index < 50; index++) foundry.withOperation(`step ${index}`, () => tracer.startSpan("query").end());
    await foundry.forge();

    const operations = otel.spans().filter((span) => span.name.startsWith("operation "));
    const queries = otel.named("query");
    expect(queries).toHaveLength(50);
    const ms = ([seconds, nanos]: readonly [number, number]): number => seconds * 1000 + nanos / 1e6;
    const early = queries.filter((query, index) => ms(query.startTime) < ms(operations[index]!.startTime));
    expect(early.map((query) => parentOf(query))).toEqual([]);
    // Nor before its run's, which starts in the same millisecond as the first operation.
    const [run] = otel.named("run Clocked");
    expect(operations.filter((operation) => ms(operation.startTime) < ms(run!.startTime)).map((operation) => operation.name)).toEqual([]);
  });

  it("ends, as abandoned and with no success counted, an operation a layer outside gave up on and the run went on without", async () => {
    const otel = createHarness();
    const never = new Promise<never>(() => undefined);
    const foundry = createFoundry("GivenUp")
      .use(errorHandlingMiddleware(() => "fallback"))
      .use(timeoutMiddleware(10));
    instrument(foundry, otel.options).withOperation("hangs", () => never).withOperation("next", (input: string) => `${input} used`);
    expect(await foundry.forge()).toBe("fallback used");

    const [hangs] = otel.named("operation hangs");
    expect(hangs?.status.code).toBe(SpanStatusCode.ERROR);
    expect(hangs?.attributes["error.type"]).toBe("ABANDONED");
    expect(otel.named("operation next")).toHaveLength(1);
    expect(await otel.histogramCount("workflowforge.operation.duration", { "workflowforge.operation.name": "hangs", "error.type": "ABANDONED" })).toBe(1);
    expect(await otel.histogramCount("workflowforge.operation.duration", { "workflowforge.operation.name": "hangs" })).toBe(1);
  });

  it("refuses a foundry instrumented twice, and a target that is neither a foundry nor a smith", () => {
    const foundry = instrument(createFoundry("Twice"));
    expect(() => instrument(foundry)).toThrow(/already instrumented/);
    expect(() => instrument({} as never)).toThrow(TypeError);
    expect(() => instrument(createFoundry("Bad"), { tracerProvider: {} } as never)).toThrow(/tracerProvider/);
    expect(() => instrument(createFoundry("Bad"), { tracerProvider: null } as never)).toThrow(new TypeError("instrument(target, options): options.tracerProvider must have getTracer(), got null"));
    expect(() => instrument(createFoundry("Bad"), { meterProvider: null } as never)).toThrow(/options\.meterProvider must have getMeter\(\), got null/);
  });
});

describe("instrument(foundry) with no SDK registered", () => {
  it("records nothing, and stores no trace context with the run", async () => {
    const provider = new MemoryPersistenceProvider();
    const foundry = instrument(createFoundry("Quiet")).withOperation("only", () => {
      throw new Error("down");
    });
    await expect(usePersistence(foundry, provider, { instanceId: "quiet-1" }).forge()).rejects.toThrow(/down/);
    expect(provider.tryLoad("quiet-1", "Quiet")).toMatchObject({ status: "failed" });
    expect(provider.tryLoad("quiet-1", "Quiet")?.annotations).toBeUndefined();
  });
});

describe("instrument(foundry) when a run stops", () => {
  it("ends the run's span with error.type ABORTED when its signal aborts between operations", async () => {
    const otel = createHarness();
    const controller = new AbortController();
    const foundry = instrument(createFoundry("Stoppable"), otel.options)
      .withOperation("first", () => controller.abort(new Error("shutting down")))
      .withOperation("second", () => 2);
    await expect(foundry.forge({ signal: controller.signal })).rejects.toMatchObject({ code: "ABORTED" });
    const [run] = otel.named("run Stoppable");
    expect(otel.named("operation second")).toEqual([]);
    // Not even started: a span processor never sees a span that would never end.
    expect(otel.unended()).toEqual([]);
    expect(run?.status.code).toBe(SpanStatusCode.ERROR);
    expect(run?.attributes["error.type"]).toBe("ABORTED");
  });

  it("starts no span for an operation a layer inside refuses, unless a span started in that layer needed it as its parent", async () => {
    for (const checksFirst of [false, true]) {
      const otel = createHarness();
      const tracer = otel.tracerProvider.getTracer("app");
      const foundry = instrument(createFoundry("Refused"), otel.options)
        .use(() => {
          // A layer inside the instrumentation that looks something up, then refuses the operation.
          if (checksFirst) tracer.startSpan("lookup").end();
          throw new Error("not now");
        })
        .withOperation("op", () => 1);
      await expect(foundry.forge()).rejects.toThrow(/not now/);
      expect(otel.unended(), `checksFirst: ${checksFirst}`).toEqual([]);
      expect(otel.named("run Refused")).toHaveLength(1);
      expect(await otel.histogramCount("workflowforge.operation.duration")).toBe(0);
      const operations = otel.named("operation op");
      if (!checksFirst) {
        expect(operations).toEqual([]);
        continue;
      }
      // Its child exists: it ends at once, marked refused, with no error of its own (the run's span has it).
      expect(operations).toHaveLength(1);
      expect(operations[0]?.attributes["workflowforge.operation.refused"]).toBe(true);
      expect(operations[0]?.status.code).toBe(SpanStatusCode.UNSET);
      expect(parentOf(otel.named("lookup")[0]!)).toBe(operations[0]?.spanContext().spanId);
    }
  });

  it("ends an operation's span and the run's whatever the operation threw, a null-prototype object included", async () => {
    const otel = createHarness();
    const odd = Object.assign(Object.create(null) as object, { reason: "quota" });
    const foundry = instrument(createFoundry("Odd"), otel.options).withOperation("odd", () => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- operations may throw anything
      throw odd;
    });
    await expect(foundry.forge()).rejects.toMatchObject({ code: "OPERATION_FAILED" });
    const [operation] = otel.named("operation odd");
    expect(operation?.status.code).toBe(SpanStatusCode.ERROR);
    expect(operation?.attributes["error.type"]).toBe("_OTHER");
    expect(otel.named("run Odd")).toHaveLength(1);
  });

  it("ends the operation's span, and keeps the operation's error, when the thrown value's fields cannot be read", async () => {
    const unreadableCode = Object.defineProperty(new Error("card declined"), "code", {
      get() {
        throw new Error("getter exploded");
      },
    });
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const numberName = Object.assign(new Error("odd name"), { name: 42 });
    for (const [label, thrown, type] of [
      ["a throwing getter", unreadableCode, "_OTHER"],
      ["a revoked proxy", revoked.proxy, "_OTHER"],
      ["a name that is no string", numberName, "_OTHER"],
    ] as const) {
      const otel = createHarness();
      const foundry = instrument(createFoundry("Unreadable"), otel.options).withOperation("op", () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- operations may throw anything
        throw thrown;
      });
      const error: unknown = await foundry.forge().catch((caught: unknown) => caught);
      expect(error, label).toBeInstanceOf(OperationFailedError);
      expect((error as OperationFailedError).cause, label).toBe(thrown);
      const [operation] = otel.named("operation op");
      expect(operation?.attributes["error.type"], label).toBe(type);
      expect(await otel.histogramCount("workflowforge.operation.duration", { "error.type": type }), label).toBe(1);
      expect(otel.named("run Unreadable"), label).toHaveLength(1);
    }
  });

  it("fails a run the same way, instrumented or not, when an operation throws a revoked proxy", async () => {
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const foundry = createFoundry("Bare").withOperation("op", () => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- operations may throw anything
      throw revoked.proxy;
    });
    await expect(foundry.forge()).rejects.toBeInstanceOf(OperationFailedError);
  });
});
