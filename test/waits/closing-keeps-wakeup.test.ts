import { expect, it } from "vitest";
import { createFoundry, createSmith, isSuspended } from "../../src/index.js";
import { createRecoveryCoordinator, signalInstance, usePersistence } from "../../src/persistence/index.js";
import { SqlitePersistenceProvider } from "../../src/persistence/providers/sqlite.js";
import { createTestClock } from "../../src/persistence/testing/index.js";
import { useSqliteFiles } from "../support/sqlite-files.js";
import { approvalEvent, approvalOf, approvalWorkflow } from "./approval.js";

// A coordinator closes right after claiming a waiting record that a delivery marked due. Giving
// that claim back is a save, and a save recomputes the due state from the snapshot: the delivery's
// mark would be gone, with the event still in the mailbox, and no coordinator would ever wake the
// instance. The claim is left to expire instead, and the next coordinator runs the instance.

const files = useSqliteFiles("closing-keeps-wakeup");
// Leases are real time, whatever the clock: this one is short, and waited out.
const leaseTtlMs = 200;

it("a coordinator closing with a claimed, woken waiting record leaves it to its lease, and the next coordinator runs it", async () => {
  const provider = new SqlitePersistenceProvider({ database: files.open() });
  await provider.migrate();
  const clock = createTestClock();
  const charged: unknown[] = [];
  const workflow = approvalWorkflow({ reserved: () => undefined, charged: (_, approval) => void charged.push(approval) });
  const instance = "expense-2";
  const foundry = usePersistence(createFoundry("approval", { properties: { instance }, clock }), provider, { instanceId: instance });
  expect(isSuspended(await createSmith().forge(workflow, foundry).catch((error: unknown) => error))).toBe(true);
  await signalInstance(provider, { instanceId: instance, workflowKey: workflow.id }, approvalEvent, approvalOf(instance));
  let closing: Promise<void> | undefined;
  const closingProvider = new Proxy(provider, {
    get(target, property) {
      if (property === "claim") {
        return async (...args: Parameters<SqlitePersistenceProvider["claim"]>) => {
          const page = await target.claim(...args);
          closing ??= first.close();
          return page;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const first = createRecoveryCoordinator({ provider: closingProvider, resolveWorkflow: () => workflow, leaseTtlMs });
  const closed = await first.resumeAll();
  await closing;
  expect(closed.skipped.map((skipped) => skipped.reason)).toEqual(["closed"]);
  expect(charged).toEqual([]);
  await new Promise((resolve) => setTimeout(resolve, leaseTtlMs + 20));
  const next = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow, leaseTtlMs });
  const report = await next.resumeAll();
  expect(report.resumed.map((resumed) => resumed.instanceId)).toEqual([instance]);
  expect(charged).toEqual([approvalOf(instance)]);
  expect(await provider.tryLoad(instance, workflow.id)).toBeUndefined();
});
