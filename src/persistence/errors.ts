import { WorkflowForgeError, describeLocation, messageOf, type ErrorLocation } from "../errors.js";

/** The two keys that identify a stored snapshot. */
export interface SnapshotKeys {
  readonly foundryExecutionId: string;
  readonly workflowId: string;
}

/** The provider call that failed. */
export type ProviderCall = "save" | "tryLoad" | "delete" | "list";

export function describeKeys(keys: SnapshotKeys): string {
  return `instance "${keys.foundryExecutionId}" / workflow "${keys.workflowId}"`;
}

function withLocation(message: string, location: ErrorLocation): string {
  const where = describeLocation(location);
  return where === "" ? message : `${message} (${where})`;
}

export interface PersistenceErrorOptions {
  readonly keys: SnapshotKeys;
  /** The provider call that failed, when one did. */
  readonly call?: ProviderCall | undefined;
  readonly cause?: unknown;
  /** The operation the run was at. */
  readonly location?: ErrorLocation | undefined;
  /** Replaces the cause's message in this error's message. */
  readonly detail?: string | undefined;
  /** Who raised it, shown as `[workflowforge:<source>]`, e.g. "sqlite". @default "persistence" */
  readonly source?: string | undefined;
}

/**
 * A provider call failed (rejected, threw, or threw a non-Error value, which is the `cause`).
 * The run stops; the stored snapshot is the last one that was saved successfully.
 */
export class PersistenceError extends WorkflowForgeError {
  readonly call: ProviderCall | undefined;
  readonly keys: SnapshotKeys;

  constructor(options: PersistenceErrorOptions, code: "PERSISTENCE" | "SNAPSHOT_CONFLICT" = "PERSISTENCE") {
    const { call, keys, cause, location = {} } = options;
    const what = call === undefined ? describeKeys(keys) : `${call} failed for ${describeKeys(keys)}`;
    const message = withLocation(`[workflowforge:${options.source ?? "persistence"}] ${what}: ${options.detail ?? messageOf(cause)}`, location);
    super(code, message, "cause" in options ? { ...location, cause } : location);
    this.call = call;
    this.keys = keys;
  }
}

/**
 * Compare-and-set refused a save, or another owner holds a live claim on the instance: another
 * process is running it. The run stops before another operation runs; nothing is compensated and
 * the stored snapshot is left for its owner.
 */
export class SnapshotConflictError extends PersistenceError {
  constructor(options: PersistenceErrorOptions) {
    super({ ...options, detail: `conflict: ${options.detail ?? messageOf(options.cause)}` }, "SNAPSHOT_CONFLICT");
  }
}

/** What `tryLoad` returned is not a snapshot this version understands. Nothing ran. */
export class SnapshotCorruptedError extends WorkflowForgeError {
  readonly keys: SnapshotKeys;
  constructor(keys: SnapshotKeys, reason: string, cause?: unknown) {
    super("SNAPSHOT_CORRUPTED", `[workflowforge:persistence] stored snapshot for ${describeKeys(keys)} is corrupted: ${reason}`, cause === undefined ? {} : { cause });
    this.keys = keys;
  }
}

/** The stored snapshot was written by a different workflow definition. Nothing ran. */
export class WorkflowDefinitionMismatchError extends WorkflowForgeError {
  readonly keys: SnapshotKeys;
  constructor(keys: SnapshotKeys, workflowName: string, detail: string) {
    super(
      "DEFINITION_MISMATCH",
      `[workflowforge:persistence] snapshot for ${describeKeys(keys)} was saved by another definition of workflow "${workflowName}": ${detail}. ` +
        `Pass onDefinitionMismatch: "restart" or a migration function to usePersistence to proceed.`,
      { workflowName },
    );
    this.keys = keys;
  }
}

/** The failure stored in a snapshot. */
export interface StoredError {
  readonly name: string;
  readonly message: string;
  readonly operationIndex: number;
  readonly operationName: string;
}

/**
 * A resumed run found its instance mid-compensation, finished undoing it, and rejects with this.
 * `storedError` is the failure that caused the compensation in the earlier run.
 */
export class WorkflowCompensatedError extends WorkflowForgeError {
  readonly keys: SnapshotKeys;
  readonly storedError: StoredError | undefined;
  constructor(keys: SnapshotKeys, workflowName: string, storedError: StoredError | undefined) {
    const what = storedError === undefined ? "an earlier failure" : `${storedError.name}: ${storedError.message}`;
    super("WORKFLOW_COMPENSATED", `[workflowforge:persistence] ${describeKeys(keys)} was compensated after ${what}`, {
      workflowName,
      operationName: storedError?.operationName,
      operationIndex: storedError?.operationIndex,
      cause: storedError,
    });
    this.keys = keys;
    this.storedError = storedError;
  }
}
