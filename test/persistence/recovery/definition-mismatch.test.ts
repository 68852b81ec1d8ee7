import { describe, expect, it } from "vitest";
import { WorkflowDefinitionMismatchError } from "../../../src/persistence/index.js";
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
