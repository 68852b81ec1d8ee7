import { describe, it, expect } from "vitest";
import { createFoundry, createSmith } from "../../src/index.js";
import { PersistenceError, usePersistence } from "../../src/persistence/index.js";
import { countedFoundry, countedWorkflow, operationLog } from "../support/counted-workflow.js";
import { rejectionOf } from "../support/promises.js";
import { RecordingProvider } from "../support/recording-provider.js";
import { uniqueKeys } from "../support/run-snapshots.js";

function usedKeys(provider: RecordingProvider): string[][] {
  return provider.calls.map((record) =>
    record.call === "save" ? [record.snapshot.foundryExecutionId, record.snapshot.workflowId] : [record.foundryExecutionId, record.workflowId],
  );
}

describe("snapshot keys", () => {
  it("uses instanceId and workflowKey verbatim for every provider call", async () => {
    const provider = new RecordingProvider();
    const instanceId = " order/42 | ä✓ %20 ";
    const workflowKey = "Process|Order\nv1";
    const { foundry } = countedFoundry(2, { executionId: "exec-ignored" });
    usePersistence(foundry, provider, { instanceId, workflowKey });
    await foundry.forge();
    expect(provider.count("tryLoad")).toBe(1);
    expect(provider.count("save")).toBeGreaterThan(0);
    expect(usedKeys(provider)).toEqual(provider.calls.map(() => [instanceId, workflowKey]));
  });

  it("defaults to the foundry's executionId and, for a bare foundry, its name", async () => {
    const provider = new RecordingProvider();
    const { foundry } = countedFoundry(2, { name: "ShipOrder", executionId: "exec-7" });
    usePersistence(foundry, provider);
    await foundry.forge();
    expect(usedKeys(provider)).toEqual(provider.calls.map(() => ["exec-7", "ShipOrder"]));
  });

  it("defaults to the generated executionId when the foundry was given none", async () => {
    const provider = new RecordingProvider();
    const { foundry } = countedFoundry(1, { name: "Generated" });
    usePersistence(foundry, provider);
    await foundry.forge();
    expect(foundry.executionId).not.toBe("");
    expect(usedKeys(provider)).toEqual(provider.calls.map(() => [foundry.executionId, "Generated"]));
  });

  it("defaults to a built workflow's id when the workflow is run by createSmith", async () => {
    const provider = new RecordingProvider();
    const { workflow } = countedWorkflow(2, { name: "Billing", version: "3" });
    const foundry = createFoundry("Host", { executionId: "exec-9" });
    usePersistence(foundry, provider);
    await createSmith().forge(workflow, foundry);
    expect(workflow.id).not.toBe("Host");
    expect(usedKeys(provider)).toEqual(provider.calls.map(() => ["exec-9", workflow.id]));
  });

  it("gives a built workflow an id that is stable for the same name and version and differs otherwise", () => {
    const id = (name: string, version?: string) => countedWorkflow(1, version === undefined ? { name } : { name, version }).workflow.id;
    expect(id("Billing", "1")).toBe(id("Billing", "1"));
    expect(id("Billing")).toBe(id("Billing"));
    expect(id("Billing", "1")).not.toBe(id("Billing", "2"));
    expect(id("Billing", "1")).not.toBe(id("Billing"));
    expect(id("Billing", "1")).not.toBe(id("Invoicing", "1"));
  });

  it("resumes a rebuilt workflow of the same name and version under its default key", async () => {
    // A crash at the checkpoint of operation 1 (no compensation follows a PersistenceError).
    const provider = new RecordingProvider(undefined, {
      save: (snapshot) => {
        if (snapshot.nextOperationIndex === 2) throw new Error("process died");
      },
    });
    const log = operationLog();
    const first = countedWorkflow(3, { name: "Rebuilt", version: "1", log }).workflow;
    const second = countedWorkflow(3, { name: "Rebuilt", version: "1", log }).workflow;
    const foundry = () => createFoundry("Host", { executionId: "exec-rebuilt" });
    expect(await rejectionOf(createSmith().forge(first, usePersistence(foundry(), provider)))).toBeInstanceOf(PersistenceError);
    provider.intercept = {};
    await createSmith().forge(second, usePersistence(foundry(), provider));
    expect(log.runs).toEqual([1, 2, 1]);
  });
});

describe("foundry.idempotencyKey() under persistence", () => {
  it("is the same in the failed run and the resumed run for the same operation", async () => {
    const provider = new RecordingProvider();
    const keys = uniqueKeys("idem");
    const seen: string[][] = [];
    const log = operationLog();
    const build = (executionId: string) => {
      const { foundry } = countedFoundry(3, {
        executionId,
        log,
        onForge: (index, attempt, running) => {
          (seen[index] ??= []).push(running.idempotencyKey());
          if (index === 1 && attempt === 1) throw new Error("flaky");
        },
      });
      return usePersistence(foundry, provider, keys);
    };
    // Another process resuming the instance has another executionId; the key must not depend on it.
    await expect(build("process-a").forge()).rejects.toThrow("flaky");
    await build("process-b").forge();
    expect(log.runs).toEqual([1, 2, 1]);
    expect(seen[1]).toHaveLength(2);
    expect(seen[1]?.[0]).toBe(seen[1]?.[1]);
  });

  it("is the same after a crash at the checkpoint of the operation", async () => {
    const keys = uniqueKeys("idem-crash");
    const provider = new RecordingProvider(undefined, {
      save: (snapshot) => {
        if (snapshot.nextOperationIndex === 2) throw new Error("process died");
      },
    });
    const seen: string[][] = [];
    const build = () => {
      const { foundry } = countedFoundry(3, { onForge: (index, _, running) => void (seen[index] ??= []).push(running.idempotencyKey("charge")) });
      return usePersistence(foundry, provider, keys);
    };
    expect(await rejectionOf(build().forge())).toBeInstanceOf(PersistenceError);
    provider.intercept = {};
    await build().forge();
    expect(seen.map((keysOfOperation) => keysOfOperation.length)).toEqual([1, 2, 1]);
    expect(seen[1]?.[0]).toBe(seen[1]?.[1]);
  });

  it("differs per operation of the same instance", async () => {
    const provider = new RecordingProvider();
    const seen: string[] = [];
    const { foundry } = countedFoundry(3, { onForge: (_, __, running) => void seen.push(running.idempotencyKey()) });
    usePersistence(foundry, provider, uniqueKeys("idem-per-op"));
    await foundry.forge();
    expect(new Set(seen).size).toBe(3);
  });

  it("differs between instances for the same operation", async () => {
    const provider = new RecordingProvider();
    const seen: string[] = [];
    for (const keys of [uniqueKeys("a"), uniqueKeys("b")]) {
      const { foundry } = countedFoundry(1, { onForge: (_, __, running) => void seen.push(running.idempotencyKey()) });
      usePersistence(foundry, provider, keys);
      await foundry.forge();
    }
    expect(seen[0]).not.toBe(seen[1]);
  });
});
