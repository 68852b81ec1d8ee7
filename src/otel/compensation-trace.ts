import { trace, type Span, type Tracer } from "@opentelemetry/api";
import type { CompensationObserver } from "../types.js";
import { attr, errorTypeOf } from "./attributes.js";
import type { RunTrace } from "./run-trace.js";
import { now, recordError } from "./spans.js";

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
  // The index whose restore failed and already has its span.
  #failed: number | undefined;

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
      restoreFailed: ({ pending, failure }) => {
        this.#restoreSpan(pending, { failure });
        this.#failed = pending;
      },
      restored: ({ pending }) => {
        if (this.#failed === pending) this.#failed = undefined;
        else this.#restoreSpan(pending, undefined);
      },
      completed: () => {
        this.end();
      },
    };
  }

  // The span of operation `index`'s restore, from the previous report to now.
  #restoreSpan(index: number, failed: { readonly failure: unknown } | undefined): void {
    const span = this.#span;
    if (span === undefined) return;
    const at = now();
    const operation = this.#run.run.workflow.operations[index];
    const attributes = { [attr.operationName]: operation?.name ?? "", [attr.operationIndex]: index };
    const restore = this.#tracer.startSpan(`restore ${operation?.name ?? index}`, { startTime: this.#mark, attributes }, trace.setSpan(this.#run.context, span));
    if (failed !== undefined) {
      this.#failures++;
      recordError(restore, failed.failure, errorTypeOf(failed.failure));
    }
    restore.end(at);
    this.#mark = at;
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
