import { describe, expect, it } from "vitest";
import type { RecoveryOutcome } from "../../../src/persistence/index.js";
import { recoveryFixture } from "./fixtures.js";

// The last claimant of an instance died past its last attempt, before writing it as a dead letter:
// while being undone (`compensating`), or between its failure and the dead letter's save (`failed`).
// The record is at the limit but still carries its expired lease and the dead worker's name.
describe("an instance whose last claimant died before writing it as a dead letter", () => {
  const error = { name: "Error", message: "card declined", operationIndex: 2, operationName: "op-2" };
  const expired = () => new Date(Date.now() - 1_000).toISOString();
  const left = {
    running: { status: "running" },
    compensating: { status: "compensating", nextOperationIndex: 2, outputs: { 0: "a", 1: "b" }, error },
    failed: { status: "failed", nextOperationIndex: 2, error },
  } as const;

  it.each(["claim", "list"] as const)("is written and reported as a dead letter exactly once, whatever its status (%s)", async (path) => {
    for (const [status, fields] of Object.entries(left)) {
      const fixture = recoveryFixture({ restore: () => true, listOnly: path === "list" });
      const { instanceId } = fixture.interrupted({ ...fields, attempts: 3, owner: "dead-worker", leaseExpiresAt: expired() });
      const observed: RecoveryOutcome[] = [];
      const coordinator = fixture.coordinator({ retry: { attempts: 3 }, onOutcome: (outcome) => observed.push(outcome) });
      await coordinator.resumeAll();
      await coordinator.resumeAll();
      await coordinator.close();
      expect(observed.filter((outcome) => outcome.status === "failed" && outcome.deadLettered), status).toHaveLength(1);
      const stored = fixture.stored(instanceId);
      expect(stored?.leaseExpiresAt, status).toBeUndefined();
      expect(stored, status).toMatchObject({ status: status === "compensating" ? "compensating" : "failed", owner: "worker-1" });
    }
  });
});
