import { describe, it, expect } from "vitest";
import {
  createFoundry,
  isWorkflowForgeError,
  CompensationError,
  FoundryBusyError,
  MiddlewareError,
  OperationFailedError,
  OperationTimeoutError,
  WorkflowAbortedError,
  WorkflowForgeError,
  WorkflowTimeoutError,
  ForEachChildError,
} from "../src/index.js";

const at = { workflowName: "orders", operationName: "charge", operationIndex: 1 };

describe("errors", () => {
  it("wraps a thrown non-Error value as OperationFailedError naming workflow, operation and index", async () => {
    const foundry = createFoundry("orders")
      .withOperation("reserve", () => 1)
      .withOperation("charge", () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- operations may throw anything
        throw { reason: "declined" };
      });

    const error: unknown = await foundry.forge().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationFailedError);
    const failed = error as OperationFailedError;
    expect(failed.code).toBe("OPERATION_FAILED");
    expect(failed.cause).toEqual({ reason: "declined" });
    expect(failed).toMatchObject(at);
    expect(failed.message).toBe('workflow "orders", operation "charge" (#1) failed: {"reason":"declined"}');
  });

  it("wraps a thrown Error with the original as cause", async () => {
    const boom = new Error("boom");
    const foundry = createFoundry("orders").withOperation("charge", () => Promise.reject(boom));

    const error: unknown = await foundry.forge().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationFailedError);
    expect((error as Error).cause).toBe(boom);
    expect((error as Error).message).toContain("boom");
  });

  it("passes an engine error thrown by an operation through unchanged", async () => {
    const timeout = new OperationTimeoutError(at, 5);
    const foundry = createFoundry("orders").withOperation("charge", () => {
      throw timeout;
    });
    await expect(foundry.forge()).rejects.toBe(timeout);
  });

  it("gives every error class its name, a stable code and the location", () => {
    const cases: [WorkflowForgeError, string, string][] = [
      [new OperationFailedError(at, "x"), "OperationFailedError", "OPERATION_FAILED"],
      [new OperationTimeoutError(at, 5), "OperationTimeoutError", "OPERATION_TIMEOUT"],
      [new WorkflowTimeoutError("orders", 5), "WorkflowTimeoutError", "WORKFLOW_TIMEOUT"],
      [new WorkflowAbortedError(at, "why"), "AbortError", "ABORTED"],
      [new FoundryBusyError("CONCURRENT_RUN", "orders", "busy"), "FoundryBusyError", "CONCURRENT_RUN"],
      [new MiddlewareError(at, "twice"), "MiddlewareError", "MIDDLEWARE_MISUSE"],
      [new CompensationError("orders", "x", []), "CompensationError", "COMPENSATION_FAILED"],
      [new ForEachChildError("all", 2, "child", "x"), "ForEachChildError", "FOR_EACH_CHILD_FAILED"],
    ];
    for (const [error, name, code] of cases) {
      expect(error).toBeInstanceOf(WorkflowForgeError);
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe(name);
      expect(error.code).toBe(code);
      expect(isWorkflowForgeError(error)).toBe(true);
    }
    expect(new OperationTimeoutError(at, 5).message).toBe('workflow "orders", operation "charge" (#1) timed out after 5 ms');
  });

  it("recognises an error from a duplicate copy of the package by its registry brand", () => {
    class DuplicateCopyError extends Error {
      readonly code = "OPERATION_FAILED";
      constructor() {
        super("from another copy");
        Object.defineProperty(this, Symbol.for("workflowforge.error"), { value: true });
      }
    }
    const duplicate = new DuplicateCopyError();
    expect(duplicate).not.toBeInstanceOf(WorkflowForgeError);
    expect(isWorkflowForgeError(duplicate)).toBe(true);
  });

  it.each([new Error("plain"), "string", null, undefined, 42, { code: "OPERATION_FAILED" }])("does not recognise %s", (value) => {
    expect(isWorkflowForgeError(value)).toBe(false);
  });
});

describe("the message an error quotes of its cause", () => {
  // A thrown HTTP body of megabytes stays the cause, whole; messages and the log lines that print them quote 3,000 characters of it.
  const body = "x".repeat(1_000_000);
  const thrown = { status: 502, body };
  const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

  it.each([
    ["OperationFailedError", () => new OperationFailedError(at, thrown)],
    ["WorkflowAbortedError", () => new WorkflowAbortedError(at, new Error(body))],
    ["ForEachChildError", () => new ForEachChildError("emails", 3, "alice", thrown)],
    ["CompensationError", () => new CompensationError("orders", thrown, [])],
  ])("is cut to 3,000 characters, saying how long it was, in %s", (_name, make) => {
    const error = make();
    expect(error.message.length).toBeLessThan(3_200);
    expect(error.message).toMatch(/\n… \(\d{6,7} characters, cut\)$/);
    expect(error.cause === thrown || (error.cause as Error).message === body).toBe(true);
  });

  it("is cut whole characters: never between the halves of a surrogate pair", () => {
    for (let shift = 0; shift < 3; shift++) {
      const message = new OperationFailedError(at, new Error(`${"a".repeat(2_960 + shift)}${"😀".repeat(2_000)}`)).message;
      expect(loneSurrogate.test(message), `shift ${shift}`).toBe(false);
    }
  });

  it("keeps, in the failure record of an error that wraps it, how long the thrown message was", async () => {
    const { MemoryPersistenceProvider, usePersistence } = await import("../src/persistence/index.js");
    const { forEach, delegate } = await import("../src/index.js");
    const provider = new MemoryPersistenceProvider();
    const foundry = usePersistence(createFoundry("mail").addOperation(forEach("emails", [delegate("alice", () => Promise.reject(new Error(body)))])), provider, { instanceId: "m-1" });
    await foundry.forge().catch(() => undefined);
    expect(provider.tryLoad("m-1", "mail")?.error?.message).toMatch(/\n… \(1000000 characters, cut\)$/);
  });

  it("is whole when it fits", () => {
    expect(new OperationFailedError(at, new Error("card declined")).message).toBe('workflow "orders", operation "charge" (#1) failed: card declined');
  });
});
