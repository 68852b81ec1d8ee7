import { trace, type Span } from "@opentelemetry/api";
import type { CompensationObserver } from "../types.js";
import { attr, errorTypeOf } from "./attributes.js";
import type { RunTrace } from "./run-trace.js";
import { now, quietly, recordError, startSpan } from "./spans.js";

/**
 * A run's compensation as a span, with a child span per restore. The engine reports progress
 * between restores (a `CompensationObserver`), so each restore's span runs from the previous
 * report to its own.
 */
export class CompensationTrace {
  readonly #run: RunTrace;
  #span: Span | undefined;
  #mark = 0;
  #failures = 0;
  // The index whose restore failed and already has its span.
  #failed: number | undefined;

  constructor(run: RunTrace) {
    this.#run = run;
  }

  // Each hook is quiet: a hook that throws would stop the compensation, and the restores with it.
  observer(): CompensationObserver {
    return {
      started: ({ pending, error }) => quietly("tracing a compensation", () => this.#started(pending, error), undefined),
      restoreFailed: ({ pending, failure }) =>
        quietly(
          "tracing a restore",
          () => {
            this.#failed = pending;
            this.#restoreSpan(pending, { failure });
          },
          undefined,
        ),
      restored: ({ pending }) =>
        quietly(
          "tracing a restore",
          () => {
            if (this.#failed === pending) this.#failed = undefined;
            else this.#restoreSpan(pending, undefined);
          },
          undefined,
        ),
      completed: () => this.end(),
    };
  }

  #started(pending: number, error: unknown): void {
    const run = this.#run;
    run.compensationStarted(error);
    if (!run.recording) return;
    this.#mark = now();
    const name = run.run.workflow.name;
    this.#span = startSpan(run, `compensate ${name}`, { startTime: this.#mark, attributes: { [attr.workflowName]: name, [attr.pending]: pending } }, run.context);
  }

  // The span of operation `index`'s restore, from the previous report to now.
  #restoreSpan(index: number, failed: { readonly failure: unknown } | undefined): void {
    const span = this.#span;
    if (span === undefined) return;
    const at = now();
    const operation = this.#run.run.workflow.operations[index];
    const attributes = { [attr.operationName]: operation?.name ?? "", [attr.operationIndex]: index };
    const restore = startSpan(this.#run, `restore ${operation?.name ?? index}`, { startTime: this.#mark, attributes }, trace.setSpan(this.#run.context, span));
    try {
      if (failed !== undefined) {
        this.#failures++;
        recordError(restore, failed.failure, errorTypeOf(failed.failure));
      }
    } finally {
      restore.end(at);
    }
    this.#mark = at;
  }

  /** Ends the compensation's span, once. */
  end(): void {
    const span = this.#span;
    if (span === undefined) return;
    this.#span = undefined;
    quietly(
      "ending a compensation's span",
      () => {
        if (this.#failures > 0) span.setAttribute(attr.restoreFailures, this.#failures);
        span.end();
      },
      undefined,
    );
  }
}
