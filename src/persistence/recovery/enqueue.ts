import { requireName, requireOptionsObject, rejectUnknownKeys } from "../../internal/validate.js";
import type { Properties } from "../../types.js";
import type { Workflow } from "../../workflow.js";
import { fingerprintOf, type WorkflowExecutionSnapshot } from "../snapshot.js";

/**
 * What `coordinator.enqueue(workflow, options)` stores: the keys, and the starting properties typed
 * by the workflow's `P`, required when `P` has a required field (the run starts from them).
 */
export type EnqueueOptions<P extends object = Properties> = EnqueueKeys &
  (Record<never, never> extends P ? { readonly properties?: Readonly<P> | undefined } : { readonly properties: Readonly<P> });

/** The properties type `P` of a `Workflow<P>`; of each member of a union of workflows. */
export type PropertiesOf<W> = W extends Workflow<infer P> ? P : never;

interface EnqueueKeys {
  /** Key 1 of the new instance. */
  readonly instanceId: string;
  /** Key 2. @default the workflow's id (name@version) */
  readonly workflowKey?: string | undefined;
  /** The instance's starting properties, stored with it. @default {} */
  readonly properties?: object | undefined;
}

const where = "coordinator.enqueue(workflow, options)";

/**
 * A snapshot of an instance that has not started: status `running`, no operation complete, no
 * owner. Any coordinator's `resumeAll` claims and runs it like an interrupted one.
 */
export function enqueuedSnapshot(workflow: Workflow<any>, input: EnqueueOptions<any>): WorkflowExecutionSnapshot {
  if (typeof workflow !== "object" || workflow === null || !Array.isArray(workflow.operations)) {
    throw new TypeError(`${where}: workflow must be built with createWorkflow(...).build()`);
  }
  const options = requireOptionsObject(input, where) as unknown as EnqueueOptions<any>;
  rejectUnknownKeys(options, ["instanceId", "workflowKey", "properties"], where);
  requireName(options.instanceId, `${where}: options.instanceId`);
  if (options.workflowKey !== undefined) requireName(options.workflowKey, `${where}: options.workflowKey`);
  const properties = requireOptionsObject(options.properties, `${where}: options.properties`);
  const now = new Date().toISOString();
  const snapshot: WorkflowExecutionSnapshot = {
    formatVersion: 1,
    foundryExecutionId: options.instanceId,
    workflowId: options.workflowKey ?? workflow.id,
    workflowName: workflow.name,
    definitionFingerprint: fingerprintOf(workflow),
    operationCount: workflow.operations.length,
    nextOperationIndex: 0,
    properties: { ...properties },
    status: "running",
    revision: 1,
    createdAt: now,
    updatedAt: now,
  };
  return workflow.version === undefined ? snapshot : { ...snapshot, workflowVersion: workflow.version };
}
