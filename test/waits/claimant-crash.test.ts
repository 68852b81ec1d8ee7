import { describe, expect, it } from "vitest";
import { createFoundry, createSmith } from "../../src/index.js";
import { createRecoveryCoordinator, MemoryPersistenceProvider, usePersistence, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import type { ClaimRequest } from "../../src/persistence/provider.js";
import { SqlitePersistenceProvider } from "../../src/persistence/providers/sqlite.js";
import { deferred } from "../support/promises.js";
import { useSqliteFiles } from "../support/sqlite-files.js";
import { approvalWorkflow, approve, approvedWhileWaiting, suspendAtApproval } from "./helpers.js";

const sqlite = useSqliteFiles("claimant-crash");
const stores: [string, () => WorkflowPersistenceProvider][] = [
  ["memory", () => new MemoryPersistenceProvider()],
  ["SQLite", () => new SqlitePersistenceProvider({ database: sqlite.open() })],
];

/** A request that claims whatever is claimable an hour from now, when every lease taken today has run out. */
function anHourLater(): ClaimRequest {
  const now = Date.now() + 3_600_000;
  return { owner: "worker-2", now: new Date(now).toISOString(), leaseExpiresAt: new Date(now + 30_000).toISOString(), limit: 10, maxAttempts: 3, filter: {} };
}

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

  // A coordinator's claim by page leaves the record `waiting` (the run adopts it, writing nothing):
  // a renewal that stored it back as it was cleared the delivery's mark, and nobody claimed it again.
  it.each(stores)("%s: is claimable once the lease ended when a coordinator claimed it and its run renewed the lease before dying", async (_name, open) => {
    const store = open();
    const workflow = approvalWorkflow([]);
    await suspendAtApproval(store, workflow, "expense-1");
    expect(await approve(store, workflow, "expense-1")).toBe(true);
    const [atWait, renewed, died] = [deferred(), deferred(), deferred()];
    let phase: "running" | "at the wait" | "dead" = "running";
    const dying = new Proxy(store, {
      get(target, key) {
        if (key === "receive") return () => ((phase = "at the wait"), atWait.resolve(), died.promise);
        if (phase === "dead" && (key === "save" || key === "tryLoad")) return () => new Promise(() => undefined);
        const value = Reflect.get(target, key, target) as unknown;
        if (key === "save" && phase === "at the wait") {
          return (...args: unknown[]) => Promise.resolve((value as (...a: unknown[]) => unknown).apply(target, args)).then(() => renewed.resolve());
        }
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    // Long enough that a busy machine does not lose the lease before the wait (the renewal comes
    // after a third of it; the test waits for it, not for the time).
    const coordinator = createRecoveryCoordinator({ provider: dying, resolveWorkflow: () => workflow, leaseTtlMs: 600 });
    const pass = coordinator.resumeAll().catch((error: unknown) => error);
    await atWait.promise;
    await renewed.promise;
    phase = "dead";
    const claimed = await store.claim!(anHourLater());
    died.reject(new Error("the process died"));
    await coordinator.close({ timeoutMs: 10 });
    await pass;
    expect(claimed.map((snapshot) => snapshot.foundryExecutionId)).toEqual(["expense-1"]);
  });
});
