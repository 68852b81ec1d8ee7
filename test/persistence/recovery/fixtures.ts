import { randomUUID } from "node:crypto";
import type { Workflow } from "../../../src/index.js";
import {
  MemoryPersistenceProvider,
  createRecoveryCoordinator,
  type RecoveryCoordinator,
  type RecoveryCoordinatorOptions,
  type WorkflowExecutionSnapshot,
} from "../../../src/persistence/index.js";
import { fingerprintOf } from "../../../src/persistence/snapshot.js";
import { countedWorkflow, operationLog, type CountedOptions, type OperationLog } from "../../support/counted-workflow.js";

export interface RecoveryFixture {
  readonly provider: MemoryPersistenceProvider;
  readonly workflow: Workflow;
  readonly log: OperationLog;
  /** Stores an interrupted instance: operation 0 done, its worker's lease expired a second ago. */
  interrupted(overrides?: Partial<WorkflowExecutionSnapshot>): { instanceId: string; workflowKey: string };
  stored(instanceId: string): WorkflowExecutionSnapshot | undefined;
  /** A coordinator owned by "worker-1" that knows the workflow by name, with quick retries. */
  coordinator(options?: Partial<RecoveryCoordinatorOptions>): RecoveryCoordinator;
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
  const fingerprint = fingerprintOf(workflow);
  return {
    provider,
    workflow,
    log,
    interrupted(overrides = {}) {
      const instanceId = `order-${randomUUID()}`;
      const now = new Date().toISOString();
      provider.save({
        formatVersion: 1,
        foundryExecutionId: instanceId,
        workflowId: workflow.id,
        workflowName: workflow.name,
        workflowVersion: "1",
        definitionFingerprint: fingerprint,
        operationCount: 3,
        nextOperationIndex: 1,
        lastOutput: "out-0",
        properties: { step: 1 },
        status: "running",
        revision: 1,
        owner: "dead-worker",
        leaseExpiresAt: new Date(Date.now() - 1_000).toISOString(),
        createdAt: now,
        updatedAt: now,
        ...overrides,
      });
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
