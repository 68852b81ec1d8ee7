import { describe, rejectUnknownKeys, requireName, requireOptionalSignal, requireOptionsObject } from "../../internal/validate.js";
import { isSnapshotStatus, snapshotStatuses } from "../snapshot.js";

// The arguments of the coordinator's calls, checked before anything is read or claimed: a filter
// key it does not know would otherwise be ignored, and every instance run.

const filterKeys = ["status", "workflowId", "workflowName", "updatedBefore"];

/** Throws `TypeError` naming `what` unless `value` is a `SnapshotFilter` (or undefined). */
export function requireFilter(value: unknown, what: string): void {
  const filter = requireOptionsObject(value, what);
  rejectUnknownKeys(filter, filterKeys, what);
  const { status, workflowId, workflowName, updatedBefore } = filter;
  if (status !== undefined && !(Array.isArray(status) ? status.every(isSnapshotStatus) : isSnapshotStatus(status))) {
    throw new TypeError(`${what}.status must be one of ${snapshotStatuses.join(", ")} (or an array of them), got ${describe(status)}`);
  }
  if (workflowId !== undefined) requireName(workflowId, `${what}.workflowId`);
  if (workflowName !== undefined) requireName(workflowName, `${what}.workflowName`);
  if (updatedBefore !== undefined && !isDate(updatedBefore)) {
    throw new TypeError(`${what}.updatedBefore must be a valid Date or date string, got ${updatedBefore instanceof Date ? "an invalid Date" : describe(updatedBefore)}`);
  }
}

/** Throws `TypeError` naming `what` unless `value` is a `RecoveryRunOptions` (or undefined). */
export function requireRunOptions(value: unknown, what: string): void {
  const options = requireOptionsObject(value, what);
  rejectUnknownKeys(options, ["signal"], what);
  requireOptionalSignal(options.signal, `${what}.signal`);
}

function isDate(value: unknown): boolean {
  if (value instanceof Date) return !Number.isNaN(value.getTime());
  return typeof value === "string" && !Number.isNaN(Date.parse(value));
}
