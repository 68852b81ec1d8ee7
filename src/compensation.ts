import { abortError } from "./abort.js";
import { CompensationError, type RestoreFailure } from "./errors.js";
import type { Emitter, SmithEvents } from "./events.js";
import type { Foundry } from "./foundry.js";
import type { CompensationObserver, CompensationProgress, WorkflowInfo } from "./types.js";

export interface CompensationSettings {
  /** Compensate when an operation fails (the smith does; a bare foundry does not). */
  readonly compensate: boolean;
  /** Stop at the first restore that fails, leaving the rest undone. */
  readonly failFast: boolean;
  /** Reject with {@link CompensationError} when any restore failed. */
  readonly throwOnError: boolean;
  readonly events: Emitter<SmithEvents> | undefined;
  /** Told the failure being compensated for, before anything else happens (a smith's timeout names it as its cause). */
  readonly started?: (error: Error) => void;
}

export interface CompensationRequest {
  readonly foundry: Foundry<any>;
  readonly signal: AbortSignal;
  readonly workflow: WorkflowInfo;
  readonly settings: CompensationSettings;
  readonly observers: readonly CompensationObserver[];
  readonly restoreData: readonly unknown[];
  /** Operations `[0, pending)` are restored, from `pending - 1` down to 0. */
  readonly pending: number;
  readonly error: Error;
  /** The foundry operation `index`'s restore runs with: its `idempotencyKey()` is that operation's. */
  readonly foundryFor: (index: number) => Foundry<any>;
}

/**
 * Restores completed operations in reverse order and resolves with the error the run must reject
 * with: the original failure, a {@link CompensationError} when asked to report restore failures, or
 * an observer's error (for example a failed checkpoint), which stops the compensation at once.
 * An abort stops it too, before the next restore or as soon as the current one settles, and
 * resolves with the abort error (the run rejects with an `AbortError`).
 */
export async function runCompensation(request: CompensationRequest): Promise<Error> {
  const { foundry, workflow, settings, pending, error } = request;
  const events = settings.events;
  const base = { workflowName: workflow.name, executionId: foundry.executionId };
  const failures: RestoreFailure[] = [];
  settings.started?.(error);
  try {
    stopIfAborted(request, pending - 1);
    for (const observer of request.observers) await observer.started?.({ pending, error, restoreData: request.restoreData });
    events?.emit("compensationStarted", { ...base, error, pending });
    // Operations [0, left) were not restored: fail-fast stopped at a restore that threw.
    let left = 0;
    for (let index = pending - 1; index >= 0; index--) {
      const failed = await restore(request, index);
      if (failed !== undefined) failures.push(failed);
      if (failed !== undefined && settings.failFast) {
        left = index;
        break;
      }
      await notify(request.observers, "restored", { pending: index, error });
    }
    if (!settings.failFast || failures.length === 0) await notify(request.observers, "completed", { pending: 0, error });
    events?.emit("compensationCompleted", { ...base, failures: failures.length, left });
  } catch (stopped) {
    // An observer's error (a failed checkpoint) or the abort error.
    return stopped as Error;
  }
  if (failures.length > 0 && settings.throwOnError) return new CompensationError(workflow.name, error, failures);
  return error;
}

// Runs operation `index`'s restore, if it has one, and reports it; resolves with its failure.
async function restore(request: CompensationRequest, index: number): Promise<RestoreFailure | undefined> {
  const { workflow, signal, settings, error } = request;
  const operation = workflow.operations[index];
  if (operation?.restore === undefined) return undefined;
  const about = { workflowName: workflow.name, operationName: operation.name, index };
  stopIfAborted(request, index);
  try {
    await operation.restore(request.restoreData[index], request.foundryFor(index), signal);
  } catch (restoreError) {
    // A restore the abort cut short did not fail: it runs again when the compensation resumes.
    stopIfAborted(request, index);
    settings.events?.emit("operationRestoreFailed", { ...about, error: restoreError });
    await notifyFailure(request.observers, { pending: index, error, failure: restoreError });
    return { operationName: operation.name, operationIndex: index, error: restoreError };
  }
  stopIfAborted(request, index);
  settings.events?.emit("operationRestored", about);
  return undefined;
}

// Throws the abort error once the run's signal aborted: nothing more is restored, reported or
// stored, so a persisted compensation is left for a later run to finish.
function stopIfAborted({ signal, workflow }: CompensationRequest, index: number): void {
  if (signal.aborted) throw abortError(signal, { workflowName: workflow.name, operationName: workflow.operations[index]?.name, operationIndex: index });
}

async function notifyFailure(observers: readonly CompensationObserver[], progress: CompensationProgress & { readonly failure: unknown }): Promise<void> {
  for (const observer of observers) await observer.restoreFailed?.(progress);
}

async function notify(
  observers: readonly CompensationObserver[],
  hook: "restored" | "completed",
  progress: CompensationProgress,
): Promise<void> {
  for (const observer of observers) await observer[hook]?.(progress);
}
