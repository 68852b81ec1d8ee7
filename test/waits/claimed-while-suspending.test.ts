import { expect, it } from "vitest";
import { createFoundry, createSmith, isSuspended } from "../../src/index.js";
import { createRecoveryCoordinator, signalInstance, usePersistence, type RecoveryOutcome, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { SqlitePersistenceProvider } from "../../src/persistence/providers/sqlite.js";
import type { WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";
import { deferred } from "../support/promises.js";
import { useSqliteFiles } from "../support/sqlite-files.js";
import { approvalEvent, approvalOf, approvalWorkflow } from "./approval.js";

// A run suspends; its event arrives right after the waiting save and a coordinator of the same
// process claims the instance before the run takes it back. The run's compare-and-set then fails,
// so it leaves the instance to the coordinator, which must run it now, not skip it because the
// suspending run still held it here (that kept the coordinator's fresh lease on a record nobody ran).

const files = useSqliteFiles("claimed-while-suspending");

it("a coordinator that claims an instance while its run is suspending here runs it once that run let go", async () => {
  const provider = new SqlitePersistenceProvider({ database: files.open() });
  await provider.migrate();
  const charged: unknown[] = [];
  const workflow = approvalWorkflow({ reserved: () => undefined, charged: (_, approval) => void charged.push(approval) });
  const instance = "expense-1";
  const claimed = deferred();
  const coordinatorProvider = new Proxy(provider, {
    get(target, property) {
      if (property === "claim") {
        return async (...args: Parameters<NonNullable<SqlitePersistenceProvider["claim"]>>) => {
          const page = await target.claim(...args);
          if (page.length > 0) claimed.resolve();
          return page;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const coordinator = createRecoveryCoordinator({ provider: coordinatorProvider, resolveWorkflow: () => workflow });
  let pass: ReturnType<typeof coordinator.resumeAll> | undefined;
  const runs = new Proxy(provider, {
    get(target, property) {
      if (property === "save") {
        return async (snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal) => {
          await target.save(snapshot, signal);
          if (snapshot.status !== "waiting") return;
          await signalInstance(provider, { instanceId: instance, workflowKey: workflow.id }, approvalEvent, approvalOf(instance));
          pass = coordinator.resumeAll();
          await claimed.promise;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as WorkflowPersistenceProvider;
  const foundry = usePersistence(createFoundry("approval", { properties: { instance } }), runs, { instanceId: instance, lease: { ttlMs: 30_000 } });
  const outcome = await createSmith().forge(workflow, foundry).catch((error: unknown) => error);
  expect(isSuspended(outcome)).toBe(true);
  const report = await pass;
  expect(report?.resumed.map((resumed) => resumed.instanceId)).toEqual([instance]);
  expect(charged).toEqual([approvalOf(instance)]);
  expect(await provider.tryLoad(instance, workflow.id)).toBeUndefined();
});

it("a page that claims an instance another lane of the same coordinator is suspending runs it once that lane let go", async () => {
  const { report, charged, provider, workflow, coordinator } = await aPageClaimingWhatALaneSuspends();
  expect(report.skipped).toEqual([]);
  expect(report.resumed.map((resumed) => resumed.instanceId)).toEqual([first]);
  expect(charged).toEqual([first]);
  expect(await provider.tryLoad(first, workflow.id)).toBeUndefined();
  await coordinator.close();
});

it("the suspending lane hands its hold to that page's claim: a leased run here started meanwhile is refused", async () => {
  const runs: Promise<unknown>[] = [];
  const { report, charged, coordinator } = await aPageClaimingWhatALaneSuspends((outcome, provider, workflow) => {
    if (outcome.status !== "suspended" || outcome.instanceId !== first) return;
    const foundry = usePersistence(createFoundry("approval", { properties: { instance: first } }), provider, { instanceId: first, lease: { ttlMs: 30_000 } });
    runs.push(createSmith().forge(workflow, foundry).catch((error: unknown) => error));
  });
  expect(await Promise.all(runs)).toMatchObject([{ code: "SNAPSHOT_CONFLICT" }]);
  expect(report.skipped).toEqual([]);
  expect(report.resumed.map((resumed) => resumed.instanceId)).toEqual([first]);
  expect(charged).toEqual([first]);
  await coordinator.close();
});

const [first, second] = ["expense-a", "expense-b"];

/**
 * Two instances, two lanes: the second's first step waits until the first has stored its wait and
 * been signalled, so that its lane claims the next page, the first among it, while the first's run
 * is still suspending. `onOutcome` is the coordinator's.
 */
async function aPageClaimingWhatALaneSuspends(onOutcome?: (outcome: RecoveryOutcome, provider: WorkflowPersistenceProvider, workflow: ReturnType<typeof approvalWorkflow>) => void) {
  const provider = new SqlitePersistenceProvider({ database: files.open() });
  await provider.migrate();
  const charged: string[] = [];
  const secondMayReserve = deferred();
  const workflow = approvalWorkflow({ reserved: (instance) => (instance === second ? secondMayReserve.promise : undefined), charged: (instance) => void charged.push(instance) });
  const nextPage = deferred();
  let pages = 0;
  const proxied = new Proxy(provider, {
    get(target, property) {
      if (property === "claim") {
        return async (...args: Parameters<NonNullable<SqlitePersistenceProvider["claim"]>>) => {
          const page = await target.claim(...args);
          if (++pages === 2) nextPage.resolve();
          return page;
        };
      }
      if (property === "save") {
        return async (snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal) => {
          await target.save(snapshot, signal);
          if (snapshot.status !== "waiting" || snapshot.foundryExecutionId !== first) return;
          await signalInstance(provider, { instanceId: first, workflowKey: workflow.id }, approvalEvent, approvalOf(first));
          secondMayReserve.resolve();
          await nextPage.promise;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as WorkflowPersistenceProvider;
  const coordinator = createRecoveryCoordinator({
    provider: proxied,
    resolveWorkflow: () => workflow,
    concurrency: 2,
    ...(onOutcome === undefined ? {} : { onOutcome: (outcome: RecoveryOutcome) => onOutcome(outcome, provider, workflow) }),
  });
  for (const instance of [first, second]) await coordinator.enqueue(workflow, { instanceId: instance, properties: { instance } });
  const report = await coordinator.resumeAll();
  return { report, charged, provider, workflow, coordinator };
}
