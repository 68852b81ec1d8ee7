import { describe, expect, it } from "vitest";
import { createFoundry, createSmith } from "../../src/index.js";
import { usePersistence } from "../../src/persistence/index.js";
import type { ClaimRequest } from "../../src/persistence/provider.js";
import { approvedWhileWaiting } from "./helpers.js";

describe("a waiting record whose claimant dies before the wait's checkpoint", () => {
  it("is claimable once the lease ended, its event still unconsumed in the mailbox", async () => {
    const { workflow, memory, clock } = await approvedWhileWaiting("expense-1");
    // A plain forge claims the instance, then stops answering at the wait: a process that died there.
    let die: (error: Error) => void = () => undefined;
    let reached: () => void = () => undefined;
    const atWait = new Promise<void>((resolve) => (reached = resolve));
    const dying = new Proxy(memory, {
      get(target, key) {
        if (key === "receive") {
          return () => {
            reached();
            return new Promise((_, reject) => (die = reject));
          };
        }
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const foundry = usePersistence(createFoundry("approval", { clock }), dying, { instanceId: "expense-1", lease: { ttlMs: 30_000 } });
    const run = createSmith()
      .forge(workflow, foundry)
      .catch((error: unknown) => error);
    await atWait;
    clock.advance(30_000);
    const now = clock.now();
    const request: ClaimRequest = { owner: "worker-2", now: new Date(now).toISOString(), leaseExpiresAt: new Date(now + 30_000).toISOString(), limit: 10, maxAttempts: 3, filter: {} };
    const claimed = await memory.claim(request);
    die(new Error("the process died"));
    await run;
    expect(claimed.map((snapshot) => snapshot.foundryExecutionId)).toEqual(["expense-1"]);
  });
});
