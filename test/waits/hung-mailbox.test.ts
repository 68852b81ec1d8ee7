import { describe, expect, it } from "vitest";
import { createFoundry, createSmith } from "../../src/index.js";
import { isHeldHere } from "../../src/persistence/held-here.js";
import { MemoryPersistenceProvider, PersistenceError, usePersistence } from "../../src/persistence/index.js";
import { rejectionOf } from "../support/promises.js";
import { approvalWorkflow } from "./helpers.js";

// A leased run settles within about one lease even when the store hangs instead of failing: the
// mailbox reads of a wait too, before the waiting save (the lease is renewed meanwhile) and after it
// (no lease keeper guards that one). The lease is long enough that the run's own checkpoints land
// within it on a busy machine.

/**
 * `memory` whose `receive()` never answers on the calls numbered in `hung` (1 for the first), and
 * whose saves of a `waiting` record land `waitingSaveMs` after they are sent.
 */
function hangingReceive(memory: MemoryPersistenceProvider, hung: readonly number[], waitingSaveMs = 0): MemoryPersistenceProvider {
  let calls = 0;
  return new Proxy(memory, {
    get(target, key) {
      const value = Reflect.get(target, key, target) as unknown;
      if (key === "receive") return (...args: Parameters<MemoryPersistenceProvider["receive"]>) => (hung.includes(++calls) ? new Promise<never>(() => undefined) : target.receive(...args));
      if (key === "save" && waitingSaveMs > 0) {
        return async (...args: Parameters<MemoryPersistenceProvider["save"]>) => {
          if (args[0].status === "waiting") await new Promise((resolve) => setTimeout(resolve, waitingSaveMs));
          return target.save(...args);
        };
      }
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe("a mailbox read that never answers", () => {
  it.each([
    ["before the waiting save", 1, "running"],
    ["after the waiting save", 2, "waiting"],
  ])("%s fails a leased run within the lease, naming the call, and lets go of the instance", async (_when, call, stored) => {
    const memory = new MemoryPersistenceProvider();
    const workflow = approvalWorkflow([]);
    const instanceId = `hung-receive-${call}`;
    const foundry = usePersistence(createFoundry("approval"), hangingReceive(memory, [call]), { instanceId, lease: { ttlMs: 1_000 } });
    const error = await rejectionOf(createSmith().forge(workflow, foundry));
    expect(error).toBeInstanceOf(PersistenceError);
    expect(error).toMatchObject({ call: "receive", keys: { foundryExecutionId: instanceId }, message: expect.stringContaining("did not answer within the lease (1000 ms)") });
    expect(memory.tryLoad(instanceId, workflow.id)?.status).toBe(stored);
    expect(isHeldHere({ foundryExecutionId: instanceId, workflowId: workflow.id })).toBe(false);
  });

  // The waiting save gave the claim back: from then on the run has no lease to lose. The lease used
  // to count on from that save's sending and expire before the read's own bound (which starts once
  // the save landed), failing the run as if another worker had taken the instance over: always when
  // the save is slow, and on a busy machine when both timers came due in one turn.
  it("after a slow waiting save is reported as the store's failure, not as a lost claim", async () => {
    const memory = new MemoryPersistenceProvider();
    const workflow = approvalWorkflow([]);
    const instanceId = "hung-receive-slow-save";
    const foundry = usePersistence(createFoundry("approval"), hangingReceive(memory, [2], 600), { instanceId, lease: { ttlMs: 1_000 } });
    const error = await rejectionOf(createSmith().forge(workflow, foundry));
    expect(error).toMatchObject({ name: "PersistenceError", call: "receive" });
    expect(memory.tryLoad(instanceId, workflow.id)).toMatchObject({ status: "waiting", revision: 3 });
    expect(memory.tryLoad(instanceId, workflow.id)?.leaseExpiresAt).toBeUndefined();
  });
});
