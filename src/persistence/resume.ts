import { WorkflowCancelledError, messageOf } from "../errors.js";
import type { WorkflowInfo } from "../types.js";
import { describeClaim, isClaimedByOther } from "./claim.js";
import { SnapshotConflictError, WorkflowDefinitionMismatchError, describeKeys, type SnapshotKeys } from "./errors.js";
import type { ResolvedPersistenceOptions } from "./options.js";
import { snapshotProblem, type WorkflowExecutionSnapshot } from "./snapshot.js";

/**
 * What a run does with what is stored under its keys:
 * - `fresh`: start at operation 0 (nothing usable is stored); `revision` is what the first save continues;
 * - `resume`: restore the properties and skip operations `[0, nextOperationIndex)`;
 * - `compensate`: an earlier run stopped while undoing the instance; finish that;
 * - `done`: the instance completed and `rerunCompleted` is false: run nothing, return its result.
 */
export type ResumePlan =
  | { readonly kind: "fresh"; readonly revision: number }
  | { readonly kind: "resume" | "compensate" | "done"; readonly revision: number; readonly snapshot: WorkflowExecutionSnapshot };

export interface ResumeContext {
  readonly keys: SnapshotKeys;
  readonly workflow: WorkflowInfo;
  readonly fingerprint: string;
  readonly options: Pick<ResolvedPersistenceOptions, "owner" | "onDefinitionMismatch" | "rerunCompleted">;
}

/**
 * Decides where a run starts from the snapshot it loaded (SPEC §5.3, §5.7–5.9). Rejects with
 * SnapshotConflictError when another owner's live lease claims the instance, and with
 * WorkflowDefinitionMismatchError when the snapshot came from another definition and the options
 * do not say how to adopt it (or the migration function failed).
 */
export async function planResume(stored: WorkflowExecutionSnapshot | undefined, context: ResumeContext): Promise<ResumePlan> {
  if (stored === undefined) return { kind: "fresh", revision: 0 };
  const { revision } = stored;
  if (stored.status === "completed") return context.options.rerunCompleted ? { kind: "fresh", revision } : { kind: "done", revision, snapshot: stored };
  if (stored.status === "cancelled") throw new WorkflowCancelledError({ workflowName: context.workflow.name }, `${describeKeys(context.keys)} was cancelled at ${stored.cancelledAt ?? stored.updatedAt}`);
  if (isClaimedByOther(stored, context.options.owner)) {
    throw new SnapshotConflictError({ keys: context.keys, detail: describeClaim(stored) });
  }
  const current = await reconcile(stored, context);
  if (current === undefined || current.status === "completed") return { kind: "fresh", revision };
  return { kind: current.status === "compensating" ? "compensate" : "resume", revision, snapshot: current };
}

// Applies onDefinitionMismatch. Resolves with the snapshot to resume from, or undefined to start fresh.
async function reconcile(snapshot: WorkflowExecutionSnapshot, context: ResumeContext): Promise<WorkflowExecutionSnapshot | undefined> {
  const { keys, workflow, fingerprint } = context;
  const operationCount = workflow.operations.length;
  if (snapshot.definitionFingerprint === fingerprint && snapshot.operationCount === operationCount) return snapshot;
  const policy = context.options.onDefinitionMismatch;
  const stored = `stored ${snapshot.operationCount} operations (${snapshot.definitionFingerprint}), current ${operationCount} (${fingerprint}): ${changeOf(snapshot, workflow)}`;
  if (policy === "restart") return startOver(snapshot, context, stored);
  if (policy === "error") throw new WorkflowDefinitionMismatchError(keys, workflow.name, `${stored}. ${adviceFor(snapshot)}`);
  const before = { nextOperationIndex: snapshot.nextOperationIndex, properties: snapshot.properties, outputs: snapshot.outputs, lastOutput: snapshot.lastOutput };
  let migrated: WorkflowExecutionSnapshot | undefined;
  try {
    migrated = await policy(snapshot, workflow);
  } catch (error) {
    // The user's migration, not the first operation, failed: say so, and run nothing (a refusal it
    // made itself is already one). Any other error, an engine error included, is wrapped.
    if (error instanceof WorkflowDefinitionMismatchError) throw error;
    throw new WorkflowDefinitionMismatchError(keys, workflow.name, `${stored}; the migration function threw: ${messageOf(error)}`, error);
  }
  if (migrated === undefined) return startOver(snapshot, context, stored);
  try {
    const unfit = misfit(migrated, snapshot, before, operationCount);
    if (unfit !== undefined) throw new WorkflowDefinitionMismatchError(keys, workflow.name, `${stored}; the migration function ${unfit}`);
    const adopted = { ...migrated, ...keys, definitionFingerprint: fingerprint, operationCount };
    // Not a stored record's damage but what the migration made: a mismatch, which costs a coordinator no attempt.
    const problem = snapshotProblem(adopted, keys);
    if (problem !== undefined) throw new WorkflowDefinitionMismatchError(keys, workflow.name, `${stored}; the migration function returned what is not a snapshot: ${problem}`);
    // Every value read once, now: a getter deep in its properties or outputs, or a function, would
    // otherwise fail the run later, as operation 0's failure or a damaged record.
    structuredClone(adopted);
    return adopted;
  } catch (error) {
    // Reading what it returned threw: the migration's failure too, not the first operation's.
    if (error instanceof WorkflowDefinitionMismatchError) throw error;
    throw new WorkflowDefinitionMismatchError(keys, workflow.name, `${stored}; reading (copying) what the migration function returned threw: ${messageOf(error)}`, error);
  }
}

// A record being undone cannot be started over (startOver refuses it): only a migration helps.
function adviceFor(snapshot: WorkflowExecutionSnapshot): string {
  const choice = snapshot.status === "compensating" ? "a migration function that maps the record being compensated to the current operations" : `"restart", or a migration function`;
  return `To proceed, set onDefinitionMismatch (${choice}) where this run's persistence is set up: usePersistence, or createRecoveryCoordinator`;
}

// What changed, as far as the record tells: it keeps the version and the count, not the names.
function changeOf(snapshot: WorkflowExecutionSnapshot, workflow: WorkflowInfo): string {
  const [was, now] = [snapshot.workflowVersion, workflow.version];
  if (was !== now) return `the version was ${was === undefined ? "none" : JSON.stringify(was)}, and is ${now === undefined ? "none" : JSON.stringify(now)}`;
  const added = workflow.operations.length - snapshot.operationCount;
  if (added !== 0) return `${Math.abs(added)} ${Math.abs(added) === 1 ? "operation" : "operations"} ${added > 0 ? "added" : "removed"}, or more changed`;
  return "as many operations, renamed or in another order (the record keeps no names, so which is not known)";
}

// Starting over throws the record away: never one being undone, whose undo would be lost and its
// effects made again (SPEC §5.7). Its restores belong to the old definition: a migration must map it.
function startOver(snapshot: WorkflowExecutionSnapshot, context: ResumeContext, stored: string): undefined {
  if (snapshot.status !== "compensating") return undefined;
  const detail = `${stored}; the record is being compensated, and starting it over would lose its undo: give onDefinitionMismatch a migration that maps it to the current operations`;
  throw new WorkflowDefinitionMismatchError(context.keys, context.workflow.name, detail);
}

interface Progress {
  readonly nextOperationIndex: number;
  readonly properties: unknown;
  readonly outputs: unknown;
  readonly lastOutput: unknown;
}

/**
 * Why a migration's result does not fit the current definition, or undefined when it does. The
 * stored snapshot handed back untouched is refused: its progress counts the old definition's
 * operations, and only the migration knows whether they moved (return a copy to keep it as it is).
 */
function misfit(migrated: WorkflowExecutionSnapshot, stored: WorkflowExecutionSnapshot, before: Progress, operationCount: number): string | undefined {
  // Plain JavaScript may return anything: null among them, which is not "start fresh" (undefined).
  if (typeof migrated !== "object" || migrated === null) return `returned ${migrated === null ? "null" : typeof migrated}, not a snapshot (return undefined to start fresh)`;
  const next: unknown = migrated.nextOperationIndex;
  if (typeof next !== "number" || !Number.isInteger(next) || next < 0 || next > operationCount) {
    return `returned nextOperationIndex ${String(next)}, which does not fit the current ${operationCount} operations (0 to ${operationCount})`;
  }
  // What a run resumes from: a migration decides where, not that the instance ended.
  if (migrated.status === "completed" || migrated.status === "cancelled") {
    return `returned status "${migrated.status}": a migration moves progress, it does not end an instance (return nextOperationIndex ${operationCount} to skip every operation)`;
  }
  const outputs = Object.keys(migrated.outputs ?? {}).map(Number);
  const beyond = outputs.find((index) => !(index < next));
  if (beyond !== undefined) return `returned an output for operation ${beyond}, which is not complete (nextOperationIndex ${next})`;
  const untouched =
    migrated === stored &&
    next === before.nextOperationIndex &&
    migrated.properties === before.properties &&
    migrated.outputs === before.outputs &&
    migrated.lastOutput === before.lastOutput;
  if (untouched && next > 0) {
    return "returned the stored snapshot unchanged: set nextOperationIndex (and outputs) for the current definition, or return a copy ({ ...snapshot }) when no completed operation moved";
  }
  return undefined;
}
