import { randomUUID } from "node:crypto";
import { createFoundry, createSmith, type Foundry, type Workflow } from "../../../src/index.js";
import {
  MemoryPersistenceProvider,
  createRecoveryCoordinator,
  usePersistence,
  type RecoveryCoordinator,
  type RecoveryCoordinatorOptions,
  type ClaimRequest,
  type WorkflowExecutionSnapshot,
} from "../../../src/persistence/index.js";
import { fingerprintOf } from "../../../src/persistence/snapshot.js";
import { deferred } from "../../support/promises.js";
import { countedWorkflow, operationLog, type CountedOptions, type OperationLog } from "../../support/counted-workflow.js";

export interface RecoveryFixture {
  readonly provider: MemoryPersistenceProvider;
  readonly workflow: Workflow;
  readonly log: OperationLog;
  /**
   * Stores an interrupted instance: operation 0 done, its worker's lease expired a second ago. An
   * override of `undefined` leaves the field out (`leaseExpiresAt: undefined`: a dead letter as a
   * coordinator writes it, with no lease).
   */
  interrupted(overrides?: { readonly [K in keyof WorkflowExecutionSnapshot]?: WorkflowExecutionSnapshot[K] | undefined }): { instanceId: string; workflowKey: string };
  stored(instanceId: string): WorkflowExecutionSnapshot | undefined;
  /** A coordinator owned by "worker-1" that knows the workflow by name, with quick retries. */
  coordinator(options?: Partial<RecoveryCoordinatorOptions>): RecoveryCoordinator;
}

/**
 * An interrupted run of `workflow` (version "1"), as stored: operation 0 done with output "out-0",
 * its worker's lease expired a second ago.
 */
export function interruptedRecord(workflow: Workflow, instanceId: string, properties: Record<string, unknown> = {}): WorkflowExecutionSnapshot {
  const now = new Date().toISOString();
  return {
    formatVersion: 1,
    foundryExecutionId: instanceId,
    workflowId: workflow.id,
    workflowName: workflow.name,
    workflowVersion: "1",
    definitionFingerprint: fingerprintOf(workflow),
    operationCount: workflow.operations.length,
    nextOperationIndex: 1,
    lastOutput: "out-0",
    properties,
    status: "running",
    revision: 1,
    owner: "dead-worker",
    leaseExpiresAt: new Date(Date.now() - 1_000).toISOString(),
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * A memory provider that does not declare `claim()`: the coordinator lists and claims each record
 * with a compare-and-set save, as it does for a provider without the capability.
 */
export function listOnlyProvider(): MemoryPersistenceProvider {
  const provider = new MemoryPersistenceProvider();
  Object.defineProperty(provider, "capabilities", { value: Object.freeze({ compareAndSet: true, list: true }) });
  return provider;
}

/**
 * A 3-operation workflow "Orders" version 1 in a memory store. `listOnly` hides the provider's
 * `claim()`, for the behaviour of the coordinator's list path.
 */
export function recoveryFixture(counted: CountedOptions & { readonly listOnly?: boolean } = {}): RecoveryFixture {
  const provider = counted.listOnly === true ? listOnlyProvider() : new MemoryPersistenceProvider();
  const log = counted.log ?? operationLog();
  const { workflow } = countedWorkflow(3, { ...counted, log, name: "Orders", version: "1" });
  return {
    provider,
    workflow,
    log,
    interrupted(overrides = {}) {
      const instanceId = `order-${randomUUID()}`;
      const record: Record<string, unknown> = { ...interruptedRecord(workflow, instanceId, { step: 1 }), ...overrides };
      for (const [field, value] of Object.entries(record)) if (value === undefined) delete record[field];
      provider.save(record as unknown as WorkflowExecutionSnapshot);
      return { instanceId, workflowKey: workflow.id };
    },
    stored: (instanceId) => provider.tryLoad(instanceId, workflow.id),
    coordinator(options = {}) {
      return createRecoveryCoordinator({
        provider,
        resolveWorkflow: (snapshot) => (snapshot.workflowName === workflow.name ? workflow : undefined),
        owner: "worker-1",
        leaseTtlMs: 5_000,
        retry: { baseDelayMs: 1, maxDelayMs: 5 },
        ...options,
      });
    },
  };
}

/**
 * An onForge hook holding the first and third instances to start until `gate` settles; `started`
 * lists the instances in the order they started.
 */
export function holdingFirstAndThird(gate: Promise<void>, onThird: () => void = () => undefined) {
  const started: string[] = [];
  const onForge = (_index: number, _attempt: number, foundry: Foundry<any>): Promise<void> | undefined => {
    if (!started.includes(foundry.executionId)) started.push(foundry.executionId);
    const position = started.indexOf(foundry.executionId);
    if (position === 2) onThird();
    return position === 0 || position === 2 ? gate : undefined;
  };
  return { onForge, started };
}

/**
 * Four interrupted instances and a pass with two lanes, the first and third runs to start held: the
 * second page's other record is claimed and waits for a lane. `release` lets the pass finish.
 */
export async function aClaimWaitingForALane() {
  const gate = deferred();
  const thirdStarted = deferred();
  const { onForge, started } = holdingFirstAndThird(gate.promise, thirdStarted.resolve);
  const fixture = recoveryFixture({ onForge });
  for (let index = 0; index < 4; index++) fixture.interrupted();
  const claim = fixture.provider.claim.bind(fixture.provider);
  const pages: string[][] = [];
  fixture.provider.claim = async (request: ClaimRequest): Promise<WorkflowExecutionSnapshot[]> => {
    const page = await claim(request);
    pages.push(page.map((snapshot) => snapshot.foundryExecutionId));
    return page;
  };
  const coordinator = fixture.coordinator({ concurrency: 2, leaseTtlMs: 60_000 });
  const pass = coordinator.resumeAll();
  await thirdStarted.promise;
  const waiting = pages[1]!.find((instanceId) => !started.includes(instanceId))!;
  const release = async () => (gate.resolve(), await pass);
  return { fixture, coordinator, waiting, release };
}

/**
 * An interrupted instance held by a run of this process without a lease, blocked in operation 1
 * until `release()`; `direct` settles with that run's result or error. `claimed` resolves once a
 * pass has claimed the instance and its lane waits for that run to let go (the way from the page
 * to that wait is promise jobs alone).
 */
export async function heldByARunHere(overrides: Partial<WorkflowExecutionSnapshot> = {}) {
  const blocked = deferred();
  const gate = deferred();
  const fixture = recoveryFixture({ onForge: (index) => (index === 1 ? (blocked.resolve(), gate.promise) : undefined) });
  const { instanceId, workflowKey } = fixture.interrupted(overrides);
  const direct = createSmith()
    .forge(fixture.workflow, usePersistence(createFoundry("Orders"), fixture.provider, { instanceId, workflowKey }))
    .catch((error: unknown) => error);
  await blocked.promise;
  const claim = fixture.provider.claim.bind(fixture.provider);
  const claimedPage = deferred();
  fixture.provider.claim = async (request: ClaimRequest): Promise<WorkflowExecutionSnapshot[]> => {
    const page = await claim(request);
    if (page.length > 0) claimedPage.resolve();
    return page;
  };
  const claimed = claimedPage.promise.then(() => new Promise((resolve) => setImmediate(resolve)));
  return { fixture, instanceId, workflowKey, direct, claimed, release: () => gate.resolve() };
}
