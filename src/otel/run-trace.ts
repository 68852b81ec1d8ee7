import { context as contexts, trace, type Attributes, type Context, type Span, type Tracer } from "@opentelemetry/api";
import type { Foundry } from "../foundry.js";
import { isWorkflowForgeError } from "../errors.js";
import { suspendsRun } from "../run-errors.js";
import type { OperationContext, RunContext, WorkflowInfo } from "../types.js";
import { attr, events } from "./attributes.js";
import { CompensationTrace } from "./compensation-trace.js";
import type { Instruments } from "./metrics.js";
import type { TracedOutcome } from "./run-outcome.js";
import { reportOutcome } from "./run-outcome.js";
import { OperationTrace } from "./operation-trace.js";
import { openRunSpan, type InstanceTrace } from "./run-span.js";
import { now, quietly } from "./spans.js";

/** Ends a run's span with the run's final outcome, when something outside the run knows it (the smith). */
export interface RunOwner {
  /** The workflow the smith runs: a run of another one (a bare `forge()` started meanwhile) is not its. */
  readonly workflow: WorkflowInfo;
  trace: RunTrace | undefined;
}

/** What the recovery coordinator knew of the run it made a foundry for. */
export interface RunNotes {
  /** The run's `workflowforge.run.attempt`. */
  readonly attempt: number;
  /** The revision of a claim the coordinator made for the run, which the run adopts without a write. */
  readonly claimed: number | undefined;
  /** The record is as `enqueue` stored it (no run ever saved it), and this is its first attempt: no earlier run started anything. */
  readonly fresh: boolean;
  /** The instance's first run, as the coordinator's earlier attempts at it know it. */
  readonly instance?: InstanceTrace;
}

/**
 * The span of one run and of its operations. The run's span starts lazily, at the first thing that
 * happens after every `start` hook ran (persistence's hook restores the stored trace context, and
 * may come after ours), with the time the run started.
 */
export class RunTrace {
  readonly run: RunContext;
  readonly instruments: Instruments;
  readonly tracer: Tracer;
  /** Whether this run's spans are recorded: false with no SDK, or when the run was sampled out. */
  recording = false;
  /** The outermost code that knows the run's final outcome, when it is not the run itself. */
  owner: RunOwner | undefined;
  /** Set once the run itself settled. */
  settled = false;
  /** The operation whose checkpoint is awaited, with the time it completed. */
  checkpoint: { readonly index: number; readonly at: number } | undefined;

  readonly #foundry: Foundry<any>;
  readonly #notes: RunNotes | undefined;
  // On the clock the spans inside it take their start from (Date.now(), whole milliseconds), as its
  // operations' spans do: a sub-millisecond time would put the run's start after its first operation's.
  readonly #started = Date.now();
  #span: Span | undefined;
  #context: Context | undefined;
  #resumed = false;
  #skipped = 0;
  // Operations this layer passed on, and those that started: a layer inside may refuse to start one.
  #attempted = 0;
  #executed = 0;
  #startedIndex = -1;
  #compensating = false;
  #ended = false;
  #compensation: CompensationTrace | undefined;
  // The operation this layer passed on last.
  #operation: OperationTrace | undefined;
  #claim: { readonly at: number; readonly revision: number } | "noted" | undefined;

  constructor(tracer: Tracer, instruments: Instruments, run: RunContext, foundry: Foundry<any>, notes: RunNotes | undefined) {
    this.tracer = tracer;
    this.#notes = notes;
    this.run = run;
    this.#foundry = foundry;
    this.instruments = instruments;
    if (this.instruments.live) this.instruments.runsStarted.add(1, { [attr.workflowName]: run.workflow.name });
  }

  /** The run's span, started on first use. */
  get span(): Span {
    return this.#span ?? this.#open();
  }

  /** The context the run's children start in. */
  get context(): Context {
    if (this.#context === undefined) this.#open();
    return this.#context as Context;
  }

  /** Whether the run claimed its instance or passed an operation on: what a conflict then took over. */
  get heldInstance(): boolean {
    return this.#claim !== undefined || this.#attempted > 0;
  }

  /** Starts the run's span now, if it has not started yet. */
  open(): void {
    if (this.#span === undefined) this.#open();
  }

  #open(): Span {
    const opened = openRunSpan(this.tracer, this.run, this.#foundry, this.#started, this.#notes?.attempt, this.#notes?.instance);
    this.#span = opened.span;
    this.#context = opened.context;
    this.recording = opened.recording;
    if (opened.continues) this.#markResumed();
    const claim = this.#claim;
    if (typeof claim === "object") this.#claimEvent(opened.span, claim);
    return opened.span;
  }

  /**
   * Persistence restored a stored snapshot (and is about to claim the instance): the run resumes
   * it, unless it is the coordinator's first attempt at an enqueued instance no run ever saved.
   */
  restored(): void {
    // The span starts now, so that the claim already carries the run's trace context.
    this.open();
    if (this.#notes?.fresh !== true) this.#markResumed();
  }

  /**
   * A snapshot was stored that is no operation's checkpoint. Before the run passed its first
   * operation on or started compensating, a `running` or `compensating` one is a leased run's claim
   * on the instance (a run without a lease stores nothing then but a record of everything done);
   * later, a lease renewal, a compensation's checkpoint or a release.
   */
  saved(status: string, revision: number): void {
    if (this.#attempted > 0 || this.#compensating || this.#claim !== undefined) return;
    if (status === "running" || status === "compensating") this.#noteClaim(now(), revision);
  }

  #noteClaim(at: number, revision: number): void {
    const claim = { at, revision };
    const span = this.#span;
    this.#claim = span === undefined ? claim : "noted";
    if (span !== undefined) this.#claimEvent(span, claim);
  }

  #claimEvent(span: Span, claim: { readonly at: number; readonly revision: number }): void {
    if (this.recording) quietly("Span.addEvent", () => span.addEvent(events.claimed, { [attr.revision]: claim.revision }, claim.at), undefined);
  }

  // The run got past its start: a claim the coordinator made for it, adopted without a write, is its claim.
  #began(): void {
    const claimed = this.#notes?.claimed;
    if (claimed !== undefined && this.#claim === undefined) this.#noteClaim(this.#started, claimed);
  }

  #markResumed(): void {
    if (this.#resumed) return;
    this.#resumed = true;
    const span = this.#span;
    if (span !== undefined && this.recording) quietly("Span.setAttribute", () => span.setAttribute(attr.resumed, true), undefined);
    if (this.instruments.live) this.instruments.runsResumed.add(1, { [attr.workflowName]: this.run.workflow.name });
  }

  /** An earlier run completed operation `index`: this one passes over it. */
  skipped(index: number, operationName: string): void {
    const span = this.span;
    this.#skipped++;
    this.#markResumed();
    if (this.recording) quietly("Span.addEvent", () => span.addEvent(events.skipped, { [attr.operationName]: operationName, [attr.operationIndex]: index }), undefined);
  }

  /** Operation `index` starts now, past every layer inside this one. */
  started(index: number): void {
    if (this.#executed++ === 0) this.#began();
    this.#startedIndex = index;
    if (this.#operation?.index === index) this.#operation.start();
  }

  /** The run's compensation starts: in a run that passed no operation on, one an earlier run left unfinished. */
  compensationStarted(error: unknown): void {
    this.open();
    this.#compensating = true;
    if (this.#attempted === 0 && isWorkflowForgeError(error) && error.code === "WORKFLOW_COMPENSATED") this.#markResumed();
    this.#began();
  }

  /** Runs the operation at `context` through the inner layers, traced and measured as configured. */
  operation(context: OperationContext<any>, next: () => Promise<unknown>): Promise<unknown> {
    this.open();
    this.#attempted++;
    this.#startedIndex = -1;
    if (!this.recording && !this.instruments.live) return next();
    const operation = new OperationTrace(this, context, this.recording ? this.#operationAttributes(context) : undefined);
    // The run moved on while the last one had not settled: a layer outside gave up on it.
    this.#operation?.abandon(undefined);
    this.#operation = operation;
    const { span } = operation;
    return (span === undefined ? next() : contexts.with(trace.setSpan(this.context, span), next)).then(
      (result) => {
        operation.finish(undefined);
        return result;
      },
      (error: unknown) => {
        // A layer inside refused to start the operation (its claim lost, the coordinator closing).
        if (this.#startedIndex !== context.index) operation.refused();
        // A durable wait is no failure: the operation's span ends as the run stops to wait.
        else operation.finish(suspendsRun(error, this.run.identity) ? undefined : { error });
        throw error;
      },
    );
  }

  // The attributes of the span of the operation at `context` (the caller checked `recording`).
  #operationAttributes(context: OperationContext<any>): Attributes {
    const { operation, index } = context;
    const attributes: Attributes = { [attr.operationName]: operation.name, [attr.operationIndex]: index };
    const functionName = operation.forge.name;
    if (functionName !== "" && functionName !== "forge") attributes[attr.codeFunction] = functionName;
    if (this.#executed === 0 && this.#resumed) {
      // The first operation after a resume is the one an earlier run may have started: operations run at least once.
      attributes[attr.rerun] = true;
      const run = this.span;
      if (this.#skipped > 0) quietly("Span.setAttribute", () => run.setAttribute(attr.resumedFrom, index), undefined);
    }
    return attributes;
  }

  /** The run's compensation, started on first use. */
  get compensation(): CompensationTrace {
    this.#compensation ??= new CompensationTrace(this);
    return this.#compensation;
  }

  /**
   * Ends the run's span (once) with `outcome`: what the run settled with (whatever layers sit
   * outside this one, a failed last checkpoint included), or what the smith that owns it settled with.
   */
  end(outcome: TracedOutcome): void {
    if (this.#ended) return;
    this.#ended = true;
    quietly("ending a run's span", () => this.#end(outcome), undefined);
  }

  #end(outcome: TracedOutcome): void {
    const span = this.span;
    try {
      // A run ends with an operation still running when something gave up on it (a smith's
      // timeout, a layer outside recovering a timeout's error), and it may never settle.
      this.#operation?.abandon(outcome.ok ? undefined : { error: outcome.error });
      this.#compensation?.end();
      reportOutcome(span, this, outcome);
    } finally {
      span.end();
    }
  }
}
