import { describe, expect, it } from "vitest";
import { createFoundry, createSmith } from "../../src/index.js";
import { usePersistence } from "../../src/persistence/index.js";
import type { ClaimRequest } from "../../src/persistence/provider.js";
import { approvedWhileWaiting } from "./helpers.js";

describe("a waiting record whose claimant dies before the wait's checkpoint", () => {
  it("is claimable once the lease ended, its event still unconsumed in the mailbox", async () => {
    const { workflow, memory, clock } = await approvedWhileWaiting("expense-1");
    // A plain forge claims the instance, then stops answering at the wait: a process that died there
    // sends nothing more, not even the renewal of its lease.
    let die: (error: Error) => void = () => undefined;
    let reached: () => void = () => undefined;
    let dead = false;
    const atWait = new Promise<void>((resolve) => (reached = resolve));
    const dying = new Proxy(memory, {
      get(target, key) {
        if (key === "receive") {
          return () => {
            dead = true;
            reached();
            return new Promise((_, reject) => (die = reject));
          };
        }
        if (dead && (key === "save" || key === "tryLoad")) return () => new Promise(() => undefined);
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    // Leases are real time, whatever the clock: this one is short, and waited out.
    const ttlMs = 100;
    const foundry = usePersistence(createFoundry("approval", { clock }), dying, { instanceId: "expense-1", lease: { ttlMs } });
    const run = createSmith()
      .forge(workflow, foundry)
      .catch((error: unknown) => error);
    await atWait;
    await new Promise((resolve) => setTimeout(resolve, ttlMs + 20));
    const now = Date.now();
    const request: ClaimRequest = { owner: "worker-2", now: new Date(now).toISOString(), leaseExpiresAt: new Date(now + 30_000).toISOString(), limit: 10, maxAttempts: 3, filter: {} };
    const claimed = await memory.claim(request);
    die(new Error("the process died"));
    await run;
    expect(claimed.map((snapshot) => snapshot.foundryExecutionId)).toEqual(["expense-1"]);
  });
});
