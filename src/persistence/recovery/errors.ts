import { WorkflowForgeError } from "../../errors.js";
import { quotedMessageOf } from "../../internal/thrown.js";
import { describeKeys, type SnapshotKeys } from "../errors.js";

/** `resolveWorkflow` knows no definition for a stored snapshot's workflow name and version. Nothing ran. */
export class UnknownWorkflowError extends WorkflowForgeError {
  readonly keys: SnapshotKeys;
  constructor(keys: SnapshotKeys, workflowName: string, workflowVersion: string | undefined) {
    const version = workflowVersion === undefined ? "" : ` version "${workflowVersion}"`;
    super("UNKNOWN_WORKFLOW", `[workflowforge:recovery] no workflow definition for "${workflowName}"${version}, stored by ${describeKeys(keys)}: resolveWorkflow returned undefined`, {
      workflowName,
    });
    this.keys = keys;
  }
}

/**
 * An instance used up its attempts and is now a dead letter: stored with status `failed`, its error
 * and its attempt count, and not resumed again. `cause` is the last attempt's error, when this
 * process saw one (an instance whose every claimant died has none).
 */
export class RetriesExhaustedError extends WorkflowForgeError {
  readonly keys: SnapshotKeys;
  readonly attempts: number;
  constructor(keys: SnapshotKeys, workflowName: string, attempts: number, cause?: unknown) {
    const last = cause === undefined ? "every process that claimed it stopped before finishing" : `last error: ${quotedMessageOf(cause)}`;
    super("RETRIES_EXHAUSTED", `[workflowforge:recovery] ${describeKeys(keys)} failed after ${attempts} attempts and is now a dead letter (${last})`, {
      workflowName,
      ...(cause === undefined ? {} : { cause }),
    });
    this.keys = keys;
    this.attempts = attempts;
  }
}
