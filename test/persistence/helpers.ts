import { randomUUID } from "node:crypto";
import { createFoundry, createWorkflow, type Foundry, type Workflow } from "../../src/index.js";
import {
  MemoryPersistenceProvider,
  definitionFingerprint,
  type ProviderCapabilities,
  type SnapshotFilter,
  type WorkflowExecutionSnapshot,
  type WorkflowPersistenceProvider,
} from "../../src/persistence/index.js";

type MaybePromise<T> = T | Promise<T>;

/** One call a {@link RecordingProvider} received, with its arguments as they were at the call. */
export type ProviderCallRecord =
  | { readonly call: "save"; readonly snapshot: WorkflowExecutionSnapshot; readonly signal: AbortSignal | undefined }
  | { readonly call: "tryLoad" | "delete"; readonly foundryExecutionId: string; readonly workflowId: string; readonly signal: AbortSignal | undefined };

/**
 * Runs before the wrapped provider's method: throw or reject to make the call fail, return a
 * promise to hold it. A save that fails here never reaches the store.
 */
export interface ProviderInterceptors {
  save?(snapshot: WorkflowExecutionSnapshot, attempt: number): MaybePromise<void>;
  tryLoad?(foundryExecutionId: string, workflowId: string): MaybePromise<void>;
  delete?(foundryExecutionId: string, workflowId: string): MaybePromise<void>;
}

/**
 * Wraps a {@link MemoryPersistenceProvider} (compare-and-set included) and records every call in
 * order, so tests can count loads, saves and deletes and inspect what each save carried.
 */
export class RecordingProvider implements WorkflowPersistenceProvider {
  readonly inner: MemoryPersistenceProvider;
  readonly calls: ProviderCallRecord[] = [];
  readonly capabilities: ProviderCapabilities;
  intercept: ProviderInterceptors;

  constructor(inner = new MemoryPersistenceProvider(), intercept: ProviderInterceptors = {}) {
    this.inner = inner;
    this.capabilities = inner.capabilities;
    this.intercept = intercept;
  }

  /** Every snapshot passed to `save`, including saves that failed. */
  get saves(): WorkflowExecutionSnapshot[] {
    return this.calls.flatMap((record) => (record.call === "save" ? [record.snapshot] : []));
  }

  count(call: ProviderCallRecord["call"]): number {
    return this.calls.filter((record) => record.call === call).length;
  }

  async save(snapshot: WorkflowExecutionSnapshot, signal?: AbortSignal): Promise<void> {
    this.calls.push({ call: "save", snapshot: structuredClone(snapshot), signal });
    await this.intercept.save?.(snapshot, this.count("save"));
    this.inner.save(snapshot, signal);
  }

  async tryLoad(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): Promise<WorkflowExecutionSnapshot | undefined> {
    this.calls.push({ call: "tryLoad", foundryExecutionId, workflowId, signal });
    await this.intercept.tryLoad?.(foundryExecutionId, workflowId);
    return this.inner.tryLoad(foundryExecutionId, workflowId, signal);
  }

  async delete(foundryExecutionId: string, workflowId: string, signal?: AbortSignal): Promise<void> {
    this.calls.push({ call: "delete", foundryExecutionId, workflowId, signal });
    await this.intercept.delete?.(foundryExecutionId, workflowId);
    this.inner.delete(foundryExecutionId, workflowId, signal);
  }

  list(filter?: SnapshotFilter, signal?: AbortSignal): Promise<WorkflowExecutionSnapshot[]> {
    return this.inner.list(filter, signal);
  }

  /** What the store holds now, bypassing the record. */
  stored(keys: Keys): WorkflowExecutionSnapshot | undefined {
    return this.inner.tryLoad(keys.instanceId, keys.workflowKey);
  }

  /**
   * Stores `snapshot` as an earlier run or another process left it, unrecorded. Compare-and-set
   * only accepts the next revision, so the revisions before it are written first.
   */
  seed(snapshot: WorkflowExecutionSnapshot): void {
    this.inner.delete(snapshot.foundryExecutionId, snapshot.workflowId);
    for (let revision = 1; revision < snapshot.revision; revision++) this.inner.save({ ...snapshot, revision });
    this.inner.save(snapshot);
  }
}

export interface Keys {
  readonly instanceId: string;
  readonly workflowKey: string;
}

/** Fresh keys per test, spread into the usePersistence options. */
export function uniqueKeys(label = "test"): Keys {
  return { instanceId: `${label}-${randomUUID()}`, workflowKey: `${label}-workflow-v1` };
}

/** What the counted operations did: how often each ran and what each received. */
export interface OperationLog {
  /** runs[i]: how many times operation i's forge ran, over every run sharing this log. */
  readonly runs: number[];
  /** inputs[i]: the inputs operation i received, in order. */
  readonly inputs: unknown[][];
  /** restores[i]: the payloads operation i's restore received, in order. */
  readonly restores: unknown[][];
  /** Every forge and restore, in order: "forge:1", "restore:0". */
  readonly events: string[];
}

export function operationLog(): OperationLog {
  return { runs: [], inputs: [], restores: [], events: [] };
}

export interface CountedOptions {
  /** The operation names. @default "op-0" … "op-{n-1}" */
  readonly names?: readonly string[];
  /** What operation i returns. @default `out-${i}` */
  readonly output?: (index: number, input: unknown) => unknown;
  /** Called inside operation i's forge after it is counted; throw to make it fail. */
  readonly onForge?: (index: number, attempt: number, foundry: Foundry<any>, signal: AbortSignal) => MaybePromise<void>;
  /** Which operations get a restore that logs its payload. @default none */
  readonly restore?: (index: number) => boolean;
  /** Shared across runs so counts add up over a failed run and its resume. */
  readonly log?: OperationLog;
}

interface CountedOperation {
  readonly name: string;
  forge(input: unknown, foundry: Foundry<any>, signal: AbortSignal): Promise<unknown>;
  restore?(output: unknown): void;
}

function countedOperations(count: number, options: CountedOptions, log: OperationLog): CountedOperation[] {
  return Array.from({ length: count }, (_, index) => {
    const name = options.names?.[index] ?? `op-${index}`;
    const forge = async (input: unknown, foundry: Foundry<any>, signal: AbortSignal): Promise<unknown> => {
      log.runs[index] = (log.runs[index] ?? 0) + 1;
      (log.inputs[index] ??= []).push(input);
      log.events.push(`forge:${index}`);
      await options.onForge?.(index, log.runs[index], foundry, signal);
      return options.output === undefined ? `out-${index}` : options.output(index, input);
    };
    if (options.restore?.(index) !== true) return { name, forge };
    const restore = (output: unknown): void => {
      (log.restores[index] ??= []).push(output);
      log.events.push(`restore:${index}`);
    };
    return { name, forge, restore };
  });
}

/** How many times each of `count` operations ran: zeros for those that never ran. */
export function runCounts(log: OperationLog, count: number): number[] {
  return Array.from({ length: count }, (_, index) => log.runs[index] ?? 0);
}

/** A bare foundry with `count` counted operations; its workflow id is its name. */
export function countedFoundry<P extends object = Record<string, unknown>>(
  count: number,
  options: CountedOptions & { readonly name?: string; readonly executionId?: string; readonly properties?: P } = {},
): { foundry: Foundry<P>; log: OperationLog } {
  const log = options.log ?? operationLog();
  const init = {
    ...(options.executionId === undefined ? {} : { executionId: options.executionId }),
    ...(options.properties === undefined ? {} : { properties: options.properties }),
  };
  const foundry = createFoundry<P>(options.name ?? "Counted", init);
  for (const operation of countedOperations(count, options, log)) foundry.addOperation(operation);
  return { foundry, log };
}

/** A built workflow with `count` counted operations, to run with createSmith. */
export function countedWorkflow(
  count: number,
  options: CountedOptions & { readonly name?: string; readonly version?: string } = {},
): { workflow: Workflow; log: OperationLog } {
  const log = options.log ?? operationLog();
  let builder = createWorkflow(options.name ?? "CountedWorkflow");
  if (options.version !== undefined) builder = builder.withVersion(options.version);
  for (const operation of countedOperations(count, options, log)) builder = builder.addOperation(operation);
  return { workflow: builder.build(), log };
}

/** A valid snapshot for `keys` matching a workflow of these operation names (and version). */
export function snapshotFor(
  keys: Keys,
  operationNames: readonly string[],
  overrides: Partial<WorkflowExecutionSnapshot> = {},
): WorkflowExecutionSnapshot {
  const now = new Date().toISOString();
  return {
    formatVersion: 1,
    foundryExecutionId: keys.instanceId,
    workflowId: keys.workflowKey,
    workflowName: "Counted",
    definitionFingerprint: definitionFingerprint(overrides.workflowVersion, operationNames),
    operationCount: operationNames.length,
    nextOperationIndex: 0,
    properties: {},
    status: "running",
    revision: 1,
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

/** The default operation names of the counted factories. */
export function opNames(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `op-${index}`);
}

export { deferred, type Deferred } from "../support/engine.js";

/** Lets every pending promise callback and a few timer turns run. */
export async function settle(turns = 5): Promise<void> {
  for (let turn = 0; turn < turns; turn++) await new Promise((resolve) => setImmediate(resolve));
}

/** Resolves with what `promise` rejected with; fails if it resolved. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the promise to reject, but it resolved");
}
