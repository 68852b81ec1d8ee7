import { describe, expect, it } from "vitest";
import { MemoryPersistenceProvider, createRecoveryCoordinator } from "../../../src/persistence/index.js";
import { runCounts } from "../../support/counted-workflow.js";
import { recoveryFixture } from "./fixtures.js";

// Misuse is a TypeError thrown by the call that made it, naming what was wrong; nothing runs.
describe("coordinator.resumeAll(filter, options) misuse", () => {
  it.each([
    ["options that are not an object", [undefined, "stop"], /resumeAll\(filter, options\): options must be an object/],
    ["an options.signal that is not an AbortSignal", [undefined, { signal: "stop" }], /options\.signal must be an AbortSignal/],
    ["an unknown option", [undefined, { timeoutMs: 5 }], /unknown option "timeoutMs"/],
    ["a filter that is not an object", ["Orders@1"], /resumeAll\(filter, options\): filter must be an object/],
    ["an unknown filter key", [{ workflowKey: "Other@1" }], /filter: unknown option "workflowKey" \(known: status, workflowId, workflowName, updatedBefore\)/],
    ["an unknown status", [{ status: "done" }], /filter\.status must be one of running, failed, compensating, completed, waiting, cancelled \(or an array of them\), got "done"/],
    ["an unknown status in an array", [{ status: ["running", "stuck"] }], /filter\.status must be one of .*got an array/],
    ["an empty workflowId", [{ workflowId: "" }], /filter\.workflowId must be a non-empty string/],
    ["a workflowName that is not a string", [{ workflowName: 4 }], /filter\.workflowName must be a non-empty string/],
    ["an updatedBefore that is no date", [{ updatedBefore: "last week" }], /filter\.updatedBefore must be a valid Date or date string, got "last week"/],
    ["an invalid Date", [{ updatedBefore: new Date(Number.NaN) }], /filter\.updatedBefore must be a valid Date/],
  ])("throws a TypeError for %s, and runs nothing", (_what, args, message) => {
    const fixture = recoveryFixture();
    const { instanceId } = fixture.interrupted();
    const coordinator = fixture.coordinator();
    const call = () => (coordinator.resumeAll as (...values: unknown[]) => unknown)(...args);
    expect(call).toThrow(TypeError);
    expect(call).toThrow(message);
    expect(runCounts(fixture.log, 3)).toEqual([0, 0, 0]);
    expect(fixture.stored(instanceId)).toMatchObject({ revision: 1, owner: "dead-worker" });
  });

  it("accepts every documented filter field", async () => {
    const fixture = recoveryFixture();
    const { instanceId, workflowKey } = fixture.interrupted();
    const filter = { status: ["running" as const], workflowId: workflowKey, workflowName: "Orders", updatedBefore: new Date(Date.now() + 60_000) };
    expect((await fixture.coordinator().resumeAll(filter, { signal: new AbortController().signal })).resumed).toMatchObject([{ instanceId }]);
  });
});

describe("coordinator.start({ filter }) misuse", () => {
  it("throws a TypeError for an unknown filter key, and starts nothing", async () => {
    const coordinator = recoveryFixture().coordinator();
    expect(() => coordinator.start({ filter: { workflowKey: "Other@1" } as never })).toThrow(/start\(options\): options\.filter: unknown option "workflowKey"/);
    // Not started: start() may still be called.
    coordinator.start({ filter: { workflowName: "Orders" }, pollIntervalMs: 60_000 });
    await coordinator.close();
  });
});

describe("coordinator.signal and coordinator.cancel misuse", () => {
  it("throws the TypeError at the call rather than returning a rejected promise", () => {
    const coordinator = recoveryFixture().coordinator();
    expect(() => coordinator.signal("", "Orders@1", "approved")).toThrow(/instanceId must be a non-empty string/);
    expect(() => coordinator.signal("a", "Orders@1", "approved", undefined, { tenant: 1 } as never)).toThrow(/unknown option "tenant"/);
    expect(() => coordinator.cancel("a", "")).toThrow(/workflowKey must be a non-empty string/);
    expect(() => coordinator.cancel("a", "Orders@1", { compensate: "yes" } as never)).toThrow(/options\.compensate must be a boolean/);
  });
});

describe("createRecoveryCoordinator concurrency and leaseTtlMs", () => {
  const make = (options: object) => () => createRecoveryCoordinator({ provider: new MemoryPersistenceProvider(), resolveWorkflow: () => undefined, ...options });

  it("rejects a concurrency above 65536 with a TypeError naming it", () => {
    expect(make({ concurrency: 2 ** 32 })).toThrow(/options\.concurrency must be an integer from 1 to 65536, got 4294967296/);
    expect(make({ concurrency: 65_536 })).not.toThrow();
  });

  it.each([0.5, 9, 10.5])("rejects leaseTtlMs %s: a lease is a whole number of milliseconds, at least 10", (leaseTtlMs) => {
    expect(make({ leaseTtlMs })).toThrow(TypeError);
    expect(make({ leaseTtlMs })).toThrow(/options\.leaseTtlMs must be a whole number of milliseconds, at least 10, got /);
  });

  it("accepts a lease of 10 ms", () => {
    expect(make({ leaseTtlMs: 10 })).not.toThrow();
  });
});
