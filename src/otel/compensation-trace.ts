import { trace, type Span, type Tracer } from "@opentelemetry/api";
import type { CompensationObserver } from "../types.js";
import { attr, errorTypeOf } from "./attributes.js";
import type { RunTrace } from "./run-trace.js";
import { now, recordError } from "./spans.js";

// Restore failures reported by instrumented smiths (`operationRestoreFailed`), claimed by the
// compensation that restored that operation next. Keyed by workflow and index: the event names
// no run, and the observer that closes a restore's span may be called after other awaits.
const restoreFailures = new Map<string, unknown>();
const failureKey = (workflowName: string, index: number): string => `${index}\u0000${workflowName}`;

/** Called by an instrumented smith when a restore failed. */
export function reportRestoreFailure(workflowName: string, index: number, error: unknown): void {
  restoreFailures.set(failureKey(workflowName, index), error);
}

/**
 * A run's compensation as a span, with a child span per restore. The engine reports progress
 * between restores (a `CompensationObserver`), so each restore's span runs from the previous
 * report to its own.
 */
export class CompensationTrace {
  readonly #tracer: Tracer;
  readonly #run: RunTrace;
  #span: Span | undefined;
  #mark = 0;
  #failures = 0;

  constructor(tracer: Tracer, run: RunTrace) {
    this.#tracer = tracer;
    this.#run = run;
  }

  observer(): CompensationObserver {
    return {
      started: ({ pending }) => {
        const run = this.#run;
        if (!run.span.isRecording()) return;
        this.#mark = now();
        const name = run.run.workflow.name;
        this.#span = this.#tracer.startSpan(`compensate ${name}`, { startTime: this.#mark, attributes: { [attr.workflowName]: name, [attr.pending]: pending } }, run.context);
      },
      restored: ({ pending }) => {
        const { workflow } = this.#run.run;
        const key = failureKey(workflow.name, pending);
        const failed = restoreFailures.has(key);
        const error = restoreFailures.get(key);
        restoreFailures.delete(key);
        const span = this.#span;
        if (span === undefined) return;
        const at = now();
        const operation = workflow.operations[pending];
        const attributes = { [attr.operationName]: operation?.name ?? "", [attr.operationIndex]: pending };
        const restore = this.#tracer.startSpan(`restore ${operation?.name ?? pending}`, { startTime: this.#mark, attributes }, trace.setSpan(this.#run.context, span));
        if (failed) {
          this.#failures++;
          recordError(restore, error, errorTypeOf(error));
        }
        restore.end(at);
        this.#mark = at;
      },
      completed: () => {
        this.end();
      },
    };
  }

  /** Ends the compensation's span, once. */
  end(): void {
    const span = this.#span;
    if (span === undefined) return;
    this.#span = undefined;
    if (this.#failures > 0) span.setAttribute(attr.restoreFailures, this.#failures);
    span.end();
  }
}
