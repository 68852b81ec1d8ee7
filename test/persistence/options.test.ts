import { describe, it, expect } from "vitest";
import { createFoundry } from "../../src/index.js";
import { MemoryPersistenceProvider, createRecoveryCoordinator, usePersistence, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { countedFoundry } from "../support/counted-workflow.js";
import { RecordingProvider } from "../support/recording-provider.js";

const provider = new MemoryPersistenceProvider();
const bare = () => createFoundry("Options").withOperation("only", () => 1);

describe("usePersistence options", () => {
  it("accepts every documented option", () => {
    const foundry = bare();
    const options = {
      enabled: true,
      instanceId: "order-1",
      workflowKey: "Order-v1",
      persistOnFailure: false,
      onComplete: "keep",
      onDefinitionMismatch: () => undefined,
      owner: "worker-1",
      lease: { ttlMs: 30_000 },
    } as const;
    expect(() => usePersistence(foundry, provider, options)).not.toThrow();
  });

  it("rejects an unknown option with a TypeError naming it", () => {
    expect(() => usePersistence(bare(), provider, { instanceID: "typo" } as any)).toThrow(TypeError);
    expect(() => usePersistence(bare(), provider, { instanceID: "typo" } as any)).toThrow(/"instanceID"/);
  });

  it("rejects options that are not an object", () => {
    expect(() => usePersistence(bare(), provider, "order-1" as any)).toThrow(TypeError);
    expect(() => usePersistence(bare(), provider, null as any)).toThrow(TypeError);
  });

  it.each(["instanceId", "workflowKey", "owner"])("rejects an empty %s with a TypeError naming it", (option) => {
    expect(() => usePersistence(bare(), provider, { [option]: "" })).toThrow(TypeError);
    expect(() => usePersistence(bare(), provider, { [option]: "" })).toThrow(new RegExp(`options\\.${option}`));
    expect(() => usePersistence(bare(), provider, { [option]: 42 } as any)).toThrow(new RegExp(`options\\.${option}`));
  });

  it.each(["enabled", "persistOnFailure"])("rejects a non-boolean %s with a TypeError naming it", (option) => {
    expect(() => usePersistence(bare(), provider, { [option]: "yes" } as any)).toThrow(TypeError);
    expect(() => usePersistence(bare(), provider, { [option]: "yes" } as any)).toThrow(new RegExp(`options\\.${option}`));
  });

  it("rejects an onComplete other than delete or keep with a TypeError naming it", () => {
    expect(() => usePersistence(bare(), provider, { onComplete: "archive" } as any)).toThrow(TypeError);
    expect(() => usePersistence(bare(), provider, { onComplete: "archive" } as any)).toThrow(/options\.onComplete/);
  });

  it("rejects an onDefinitionMismatch that is not error, restart or a function with a TypeError naming it", () => {
    expect(() => usePersistence(bare(), provider, { onDefinitionMismatch: "ignore" } as any)).toThrow(TypeError);
    expect(() => usePersistence(bare(), provider, { onDefinitionMismatch: {} } as any)).toThrow(/options\.onDefinitionMismatch/);
  });

  it.each([-1, 0, Number.NaN, Number.POSITIVE_INFINITY, "1000"])("rejects lease.ttlMs %s with a TypeError naming it", (ttlMs) => {
    expect(() => usePersistence(bare(), provider, { lease: { ttlMs } } as any)).toThrow(TypeError);
    expect(() => usePersistence(bare(), provider, { lease: { ttlMs } } as any)).toThrow(/options\.lease\.ttlMs/);
  });

  it.each([2 ** 31, 1e10, 1e16, Number.MAX_VALUE])("rejects lease.ttlMs %s, beyond the longest timer, with a TypeError naming it", (ttlMs) => {
    expect(() => usePersistence(bare(), provider, { lease: { ttlMs } })).toThrow(TypeError);
    expect(() => usePersistence(bare(), provider, { lease: { ttlMs } })).toThrow(/options\.lease\.ttlMs must be a positive number of milliseconds up to 2147483647/);
  });

  // As the coordinator's leaseTtlMs: a stored lease has whole milliseconds and is renewed every
  // quarter of its TTL, so a shorter or fractional one would end before any save could renew it.
  it.each([0.5, 9, 10.5])("rejects lease.ttlMs %s, under 10 or fractional, with a TypeError naming it", (ttlMs) => {
    expect(() => usePersistence(bare(), provider, { lease: { ttlMs } })).toThrow(/options\.lease\.ttlMs must be a whole number of milliseconds, at least 10/);
  });

  it("runs with the longest lease without a timer overflowing", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const foundry = createFoundry("Options").withOperation("only", () => new Promise((resolve) => setImmediate(resolve, 1)));
      usePersistence(foundry, new MemoryPersistenceProvider(), { lease: { ttlMs: 2_147_483_647 } });
      await expect(foundry.forge()).resolves.toBe(1);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings.map((warning) => warning.name)).not.toContain("TimeoutOverflowWarning");
  });

  it.each(["enabled", "instanceId", "workflowKey", "persistOnFailure", "onComplete", "onDefinitionMismatch", "owner", "lease"])(
    "rejects %s: null with a TypeError naming it, rather than taking the default",
    (option) => {
      expect(() => usePersistence(bare(), provider, { [option]: null } as any)).toThrow(TypeError);
      expect(() => usePersistence(bare(), provider, { [option]: null } as any)).toThrow(new RegExp(`options\\.${option}.*null`));
    },
  );

  it("rejects a lease that is not an object or has unknown keys", () => {
    expect(() => usePersistence(bare(), provider, { lease: 1000 } as any)).toThrow(/options\.lease/);
    expect(() => usePersistence(bare(), provider, { lease: { ttlMs: 1000, ttl: 5 } } as any)).toThrow(/"ttl"/);
  });

  it("validates every option even when enabled is false", () => {
    expect(() => usePersistence(bare(), provider, { enabled: false, onComplete: "archive" } as any)).toThrow(/options\.onComplete/);
    expect(() => usePersistence(bare(), provider, { enabled: false, instanceId: "" })).toThrow(/options\.instanceId/);
  });

  it("adds no middleware when an option is invalid", () => {
    const foundry = bare();
    expect(() => usePersistence(foundry, provider, { owner: "" })).toThrow(TypeError);
    expect(foundry.middleware).toHaveLength(0);
  });

  it("refuses a second usePersistence on one foundry with a TypeError, adding nothing", () => {
    const foundry = usePersistence(bare(), provider, { instanceId: "twice" });
    expect(() => usePersistence(foundry, provider, { instanceId: "twice" })).toThrow(new TypeError('foundry "Options" already uses persistence: add it once, to a new foundry for each run'));
    expect(foundry.middleware).toHaveLength(1);
  });
});

describe("the recovery coordinator's lease and counts", () => {
  const coordinator = (leaseTtlMs: number) => createRecoveryCoordinator({ provider: new MemoryPersistenceProvider(), resolveWorkflow: () => undefined, leaseTtlMs });

  it.each([2 ** 31, 1e16])("rejects leaseTtlMs %s, beyond the longest timer, with a TypeError", (leaseTtlMs) => {
    expect(() => coordinator(leaseTtlMs)).toThrow(TypeError);
    expect(() => coordinator(leaseTtlMs)).toThrow(/ttlMs must be a positive number of milliseconds up to 2147483647/i);
  });

  it("rejects a concurrency past the integers a number holds exactly, or below 1, with the range it takes", () => {
    for (const concurrency of [2 ** 53, 0]) {
      const make = () => createRecoveryCoordinator({ provider: new MemoryPersistenceProvider(), resolveWorkflow: () => undefined, concurrency });
      expect(make).toThrow(`options.concurrency must be an integer from 1 to 65536, got ${concurrency}`);
    }
  });

  it("accepts the longest lease", () => {
    expect(coordinator(2_147_483_647).owner).toEqual(expect.any(String));
  });
});

describe("usePersistence provider validation", () => {
  const methods = ["save", "tryLoad", "delete"] as const;

  it.each(methods)("rejects a provider without %s with a TypeError naming the method", (method) => {
    const incomplete: Record<string, unknown> = { save() {}, tryLoad() {}, delete() {} };
    delete incomplete[method];
    expect(() => usePersistence(bare(), incomplete as unknown as WorkflowPersistenceProvider)).toThrow(TypeError);
    expect(() => usePersistence(bare(), incomplete as unknown as WorkflowPersistenceProvider)).toThrow(new RegExp(`provider\\.${method}`));
  });

  it("rejects a provider whose method is not a function", () => {
    const wrong = { save: "save", tryLoad() {}, delete() {} } as unknown as WorkflowPersistenceProvider;
    expect(() => usePersistence(bare(), wrong)).toThrow(/provider\.save/);
  });

  it.each([null, undefined, "memory"])("rejects %s as a provider with a TypeError", (value) => {
    expect(() => usePersistence(bare(), value as unknown as WorkflowPersistenceProvider)).toThrow(TypeError);
  });

  it("rejects a bad provider even when enabled is false", () => {
    expect(() => usePersistence(bare(), {} as WorkflowPersistenceProvider, { enabled: false })).toThrow(TypeError);
  });

  it("rejects a foundry that was not created with createFoundry", () => {
    expect(() => usePersistence({} as any, provider)).toThrow(TypeError);
  });
});

describe("usePersistence enabled", () => {
  it("adds exactly one middleware when enabled (the default)", () => {
    const foundry = bare();
    usePersistence(foundry, provider);
    expect(foundry.middleware).toHaveLength(1);
    const explicit = bare();
    usePersistence(explicit, provider, { enabled: true });
    expect(explicit.middleware).toHaveLength(1);
  });

  it("adds no middleware when enabled is false", () => {
    const foundry = bare();
    foundry.use((_, next) => next());
    usePersistence(foundry, provider, { enabled: false });
    expect(foundry.middleware).toHaveLength(1);
  });

  it("makes no provider call when enabled is false", async () => {
    const recording = new RecordingProvider();
    const { foundry, log } = countedFoundry(3);
    usePersistence(foundry, recording, { enabled: false });
    await foundry.forge();
    expect(log.runs).toEqual([1, 1, 1]);
    expect(recording.calls).toEqual([]);
  });

  it("returns the foundry it was given", () => {
    const foundry = bare();
    expect(usePersistence(foundry, provider)).toBe(foundry);
    expect(usePersistence(foundry, provider, { enabled: false })).toBe(foundry);
  });
});
