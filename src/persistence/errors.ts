import { WorkflowForgeError, describeLocation, type ErrorLocation } from "../errors.js";
import { quotedMessageOf } from "../internal/thrown.js";

/** The two keys that identify a stored snapshot. */
export interface SnapshotKeys {
  readonly foundryExecutionId: string;
  readonly workflowId: string;
}

/** The provider call that failed. */
export type ProviderCall = "save" | "tryLoad" | "delete" | "list" | "claim" | "deliver" | "receive" | "subscribe";

export function describeKeys(keys: SnapshotKeys): string {
  // As JSON strings: a quote, a backslash, a control character or a lone surrogate in a key is
  // escaped, so that two keys never read the same ("a\\ud800" and "a\ud800").
  return `instance ${JSON.stringify(keys.foundryExecutionId)} / workflow ${JSON.stringify(keys.workflowId)}`;
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

  constructor(options: PersistenceErrorOptions, code: "PERSISTENCE" | "SNAPSHOT_CONFLICT" | "SNAPSHOT_SERIALIZATION" | "SNAPSHOT_TOO_LARGE" = "PERSISTENCE") {
    const { call, keys, cause, location = {} } = options;
    const what = call === undefined ? describeKeys(keys) : `${call} failed for ${describeKeys(keys)}`;
    const message = withLocation(`[workflowforge:${options.source ?? "persistence"}] ${what}: ${options.detail ?? quotedMessageOf(cause)}`, location);
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
    super({ ...options, detail: `conflict: ${options.detail ?? quotedMessageOf(options.cause)}` }, "SNAPSHOT_CONFLICT");
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
  constructor(keys: SnapshotKeys, workflowName: string, detail: string, cause?: unknown) {
    super(
      "DEFINITION_MISMATCH",
      `[workflowforge:persistence] snapshot for ${describeKeys(keys)} was saved by another definition of workflow "${workflowName}": ${detail}`,
      cause === undefined ? { workflowName } : { workflowName, cause },
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
  /**
   * The thrown error's stack, at most 4,000 characters (a longer one is cut and ends with
   * `… (<length> characters, cut)`). Absent when something other than an Error was thrown, and in
   * records written before it was stored.
   */
  readonly stack?: string;
  /**
   * The thrown error's `cause` chain, outermost first: at most 5 links, each message at most 1,000
   * characters. Absent when the error has no cause.
   */
  readonly cause?: readonly StoredErrorCause[];
}

/** One link of a {@link StoredError}'s `cause` chain: a non-Error cause is named by its `typeof`. */
export interface StoredErrorCause {
  readonly name: string;
  readonly message: string;
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

// Keys of a value encoded outside a snapshot (`encodeValue`, `decodeValue`).
const noKeys: SnapshotKeys = Object.freeze({ foundryExecutionId: "", workflowId: "" });

export interface SnapshotSerializationErrorOptions {
  /** The snapshot's keys; omitted when a bare value (not a snapshot) was being encoded. */
  readonly keys?: SnapshotKeys | undefined;
  /** Where the value sits, e.g. `properties.order.items[3].price`; "" for the value itself. */
  readonly path: string;
  /** What is wrong with it. */
  readonly reason: string;
  readonly cause?: unknown;
}

/**
 * A snapshot (or value) holds something the codec cannot store: a function, a symbol, a class
 * instance, a WeakMap, a cycle. Raised by `encode` before anything is written; `path` says where.
 */
export class SnapshotSerializationError extends PersistenceError {
  readonly path: string;
  /** Why the value at `path` cannot be stored. */
  readonly reason: string;
  constructor(options: SnapshotSerializationErrorOptions) {
    const detail = `cannot serialise ${options.path === "" ? "the value" : options.path}: ${options.reason}`;
    const keys = options.keys ?? noKeys;
    const cause = "cause" in options ? { cause: options.cause } : {};
    super({ keys, call: options.keys === undefined ? undefined : "save", detail, ...cause }, "SNAPSHOT_SERIALIZATION");
    // Without keys there is no instance to name; "instance \"\"" would only confuse.
    if (options.keys === undefined) this.message = `[workflowforge:persistence] ${detail}`;
    this.path = options.path;
    this.reason = options.reason;
  }
}

/** One property of an oversized snapshot and the UTF-8 size of its encoded value. */
export interface PropertySize {
  readonly key: string;
  readonly bytes: number;
}

export interface SnapshotTooLargeErrorOptions {
  readonly keys: SnapshotKeys;
  /** UTF-8 size of the whole encoded snapshot. */
  readonly bytes: number;
  readonly maxBytes: number;
  /** The largest properties, largest first. */
  readonly largestProperties: readonly PropertySize[];
  /**
   * UTF-8 size of what the snapshot keeps besides its properties, when it keeps it: the last
   * operation's output (`lastOutput`) and the restore data of completed operations (`outputs`).
   */
  readonly outputBytes?: { readonly lastOutput: number; readonly outputs: number };
  /** UTF-8 size of an event's payload, when it is an event that is too large to deliver. */
  readonly payloadBytes?: number;
}

/** The encoded snapshot is over the codec's `maxSnapshotBytes`. Raised before anything is written. */
export class SnapshotTooLargeError extends PersistenceError {
  readonly bytes: number;
  readonly maxBytes: number;
  readonly largestProperties: readonly PropertySize[];
  /** What the last output and the restore data take, when the snapshot keeps any (see the options). */
  readonly outputBytes: { readonly lastOutput: number; readonly outputs: number } | undefined;
  /** What an event's payload takes, when it is an event that is too large to deliver. */
  readonly payloadBytes: number | undefined;
  constructor(options: SnapshotTooLargeErrorOptions) {
    const largest = options.largestProperties.map((p) => `${JSON.stringify(p.key)} (${p.bytes} bytes)`).join(", ");
    const outputs = options.outputBytes;
    const detail =
      `the encoded snapshot is ${options.bytes} bytes, over maxSnapshotBytes ${options.maxBytes}` +
      (largest === "" ? "" : `; largest properties: ${largest}`) +
      (outputs === undefined ? "" : `; the last output: ${outputs.lastOutput} bytes, restore data of completed operations: ${outputs.outputs} bytes`) +
      (options.payloadBytes === undefined ? "" : `; the event's payload: ${options.payloadBytes} bytes`);
    super({ keys: options.keys, call: "save", detail }, "SNAPSHOT_TOO_LARGE");
    this.bytes = options.bytes;
    this.maxBytes = options.maxBytes;
    this.largestProperties = options.largestProperties;
    this.outputBytes = options.outputBytes;
    this.payloadBytes = options.payloadBytes;
  }
}
