import { describe, expect, it } from "vitest";
import { createFoundry, type Foundry } from "../../../src/index.js";
import { WorkflowDefinitionMismatchError, usePersistence } from "../../../src/persistence/index.js";
import { sleep } from "../../support/promises.js";
import { runCounts } from "../../support/counted-workflow.js";
import { recoveryFixture } from "./fixtures.js";

// onDefinitionMismatch "error" (the default) reports the instance failed and leaves it alone: the
// mismatch is found before any operation runs, so no attempt is spent and nothing is dead-lettered.
describe.each([
  ["claiming by page", false],
  ["listing", true],
])("a stored instance of another definition, %s", (_path, listOnly) => {
  it("is reported failed with the mismatch on every pass, never runs, keeps attempts 0 and is never dead-lettered", async () => {
    const fixture = recoveryFixture({ listOnly });
    const { instanceId } = fixture.interrupted({ definitionFingerprint: "an older definition", attempts: 0 });
    const coordinator = fixture.coordinator({ leaseTtlMs: 40, retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 1 } });
    const failures: unknown[] = [];
    for (let pass = 0; pass < 5; pass++) {
      const report = await coordinator.resumeAll();
      expect(report.resumed).toEqual([]);
      failures.push(...report.failed);
      // Past the lease a claim may have left, so the next pass finds the instance again.
      await sleep(60);
    }
    expect(failures).toHaveLength(5);
    for (const failure of failures) {
      expect(failure).toMatchObject({ instanceId, attempts: 0, deadLettered: false });
      expect((failure as { error: unknown }).error).toBeInstanceOf(WorkflowDefinitionMismatchError);
    }
    expect(runCounts(fixture.log, 3)).toEqual([0, 0, 0]);
    expect(fixture.stored(instanceId)).toMatchObject({ status: "running", attempts: 0, definitionFingerprint: "an older definition" });
    expect(fixture.stored(instanceId)?.error).toBeUndefined();
  });
});

describe("a stored instance of another definition, claimed by page", () => {
  it("stays held by its claim until the lease ends: a pass at once neither reports nor runs it", async () => {
    const fixture = recoveryFixture();
    const { instanceId } = fixture.interrupted({ definitionFingerprint: "an older definition", attempts: 0 });
    const coordinator = fixture.coordinator({ leaseTtlMs: 60_000 });
    expect((await coordinator.resumeAll()).failed).toHaveLength(1);
    expect(await coordinator.resumeAll()).toMatchObject({ resumed: [], failed: [], skipped: [] });
    expect(Date.parse(fixture.stored(instanceId)?.leaseExpiresAt ?? "")).toBeGreaterThan(Date.now());
  });
});

// A workflow forged inside an operation (a nested run) whose own record does not fit its definition
// fails that operation like any failure: the outer run started, its attempt is spent, and the smith
// compensates it (the record is deleted once the compensation ends).
describe("a nested run's definition mismatch", () => {
  it("is the outer instance's failed attempt, not a mismatch of the outer instance", async () => {
    const nested = { foundryExecutionId: "nested-1", workflowId: "Nested" };
    const onForge = async (index: number, _attempt: number, _foundry: Foundry<any>, signal: AbortSignal): Promise<void> => {
      if (index !== 1) return;
      const inner = createFoundry("Nested", { executionId: nested.foundryExecutionId }).withOperation("only", () => "done");
      usePersistence(inner, fixture.provider);
      await inner.forge({ signal });
    };
    const fixture = recoveryFixture({ onForge });
    const { instanceId, workflowKey } = fixture.interrupted();
    const now = new Date().toISOString();
    const record = { formatVersion: 1, ...nested, workflowName: "Nested", definitionFingerprint: "an older definition", operationCount: 1, nextOperationIndex: 0 } as const;
    fixture.provider.save({ ...record, properties: {}, status: "running", revision: 1, createdAt: now, updatedAt: now });
    const outcome = await fixture.coordinator({ retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } }).resume(instanceId, workflowKey);
    expect(runCounts(fixture.log, 3)).toEqual([0, 1, 0]);
    expect(outcome).toMatchObject({ instanceId, status: "failed", attempts: 1 });
    expect((outcome as { error: unknown }).error).toMatchObject({ code: "OPERATION_FAILED", operationIndex: 1, cause: { code: "DEFINITION_MISMATCH", keys: nested } });
    expect(fixture.stored(instanceId)).toBeUndefined();
  });
});
