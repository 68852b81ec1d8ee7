import {
  MemoryPersistenceProvider,
  type ProviderCapabilities,
  type SnapshotFilter,
  type WorkflowExecutionSnapshot,
  type WorkflowPersistenceProvider,
} from "../../src/persistence/index.js";
import type { Keys } from "./run-snapshots.js";

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
    // What it implements of the inner provider's: no claim, mailbox or push methods are passed through.
    this.capabilities = { ...inner.capabilities, claim: false, mailbox: false, push: false };
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
