import type { Foundry } from "../foundry.js";
import type { OperationMiddleware, RunContext, RunStart } from "../types.js";
import { attr } from "./attributes.js";
import type { TracedOutcome } from "./run-outcome.js";
import { RunTrace, type RunNotes, type RunOwner } from "./run-trace.js";
import { now } from "./spans.js";
import { noopTracer, type Telemetry } from "./telemetry.js";

// Marks this package's layer, so that a foundry is instrumented once.
const marker = Symbol.for("workflowforge.otel.layer");
// Handed by an instrumented smith to the run of its workflow it starts on a foundry, which ends the
// run's span with the smith's final outcome (compensation and timeouts included).
const owners = new WeakMap<object, RunOwner[]>();
// How many runs smiths are about to start: without any, a run skips the look-up (which would
// make every new foundry hashable, a cost a bare foundry's short run notices).
let expected = 0;
// What the recovery coordinator knew of the run a foundry was created for.
const notes = new WeakMap<object, RunNotes>();

/** Records what the coordinator knew of the run `foundry` was created for (reported on its runs). */
export function noteRun(foundry: Foundry<any>, noted: RunNotes): void {
  notes.set(foundry, noted);
}

/** Whether `foundry` already carries this package's tracing middleware. */
export function isInstrumented(foundry: Foundry<any>): boolean {
  return foundry.middleware.some((layer) => (layer as unknown as Record<symbol, unknown>)[marker] === true);
}

/** Called by an instrumented smith before it runs `owner.workflow` on `foundry`: that run is its. */
export function expectOwnedRun(foundry: Foundry<any>, owner: RunOwner): () => void {
  const pending = owners.get(foundry);
  if (pending === undefined) owners.set(foundry, [owner]);
  else pending.push(owner);
  expected++;
  return () => forget(foundry, owner);
}

function forget(foundry: Foundry<any>, owner: RunOwner): void {
  const pending = owners.get(foundry);
  const index = pending?.indexOf(owner) ?? -1;
  if (pending === undefined || index < 0) return;
  pending.splice(index, 1);
  expected--;
  if (pending.length === 0) owners.delete(foundry);
}

// The smith's owner waiting for `run` on `foundry`. A bare forge() runs a workflow of its own, and
// compensates nothing: a bare run of the smith's workflow started meanwhile is not the smith's.
function takeOwner(foundry: Foundry<any>, run: RunContext): RunOwner | undefined {
  if (expected === 0 || !run.compensates) return undefined;
  const owner = owners.get(foundry)?.find((candidate) => candidate.workflow === run.workflow);
  if (owner !== undefined) forget(foundry, owner);
  return owner;
}

/**
 * Ends the span of the run `owner`'s smith started with the smith's `outcome`. A run still going
 * is not what the smith's chain settled with (a workflow middleware inside this one gave up on it,
 * or it was another smith's run the smith's own was refused beside): it ends with its own outcome.
 * The smith's own timeout does not settle its chain: see {@link endTimedOutRun}.
 */
export function endOwnedRun(owner: RunOwner, outcome: TracedOutcome): void {
  const trace = owner.trace;
  if (trace === undefined) return;
  if (trace.settled) trace.end(outcome);
  else trace.owner = undefined;
}

/**
 * The smith that owns the run rejected with its own timeout, which it does at once, without
 * waiting for the run: the run's span ends now, with that outcome, and its operation in flight
 * with it. Whatever the run does after (it stops at its next check, or never, when an operation
 * ignores its signal) changes nothing: its span ended, and it was counted, once.
 */
export function endTimedOutRun(owner: RunOwner, error: unknown): void {
  owner.trace?.end({ ok: false, error });
}

/**
 * Adds the operation middleware that traces and measures `foundry`'s runs. Its `start` hook makes
 * the run's trace, or, when neither traces nor metrics are recorded, bypasses the run: its
 * operations then do not pass through this layer at all.
 */
export function instrumentFoundry(foundry: Foundry<any>, telemetry: Telemetry): void {
  // A foundry runs one run at a time: the trace its events and layer report to.
  let current: RunTrace | undefined;
  let listening: "none" | "trace" | "metrics" = "none";

  const listen = (metrics: boolean): void => {
    if (listening === "metrics" || (listening === "trace" && !metrics)) return;
    if (listening === "none") {
      // Persistence restored the stored annotations and is about to claim the instance.
      foundry.on("snapshotRestored", () => current?.restored());
      foundry.on("operationSkipped", (event) => current?.skipped(event.index, event.operationName));
      // Past every layer: an operation a layer inside refused to start gets no span and no duration.
      foundry.on("operationStarted", (event) => current?.started(event.index));
      foundry.on("snapshotSaved", (event) => {
        const trace = current;
        const awaited = trace?.checkpoint;
        if (trace === undefined) return;
        if (awaited === undefined) return trace.saved(event.status, event.revision);
        if (event.nextOperationIndex !== awaited.index + 1) return;
        trace.checkpoint = undefined;
        if (trace.instruments.live) trace.instruments.checkpointDuration.record((now() - awaited.at) / 1000, { [attr.workflowName]: trace.run.workflow.name });
      });
    }
    if (metrics) {
      // Only for the checkpoint histogram: a completion listener costs the engine a promise per step.
      foundry.on("operationCompleted", (event) => {
        if (current !== undefined) current.checkpoint = { index: event.index, at: now() };
      });
    }
    listening = metrics ? "metrics" : "trace";
  };

  const start = ({ run, bypass }: RunStart<any>): void => {
    const owner = takeOwner(foundry, run);
    const instruments = telemetry.meters.get();
    const tracer = telemetry.tracerForRun();
    // Nothing is recorded (no SDK): the run gets no trace, and its chain leaves this layer out.
    if (!instruments.live && tracer === undefined) {
      current = undefined;
      bypass();
      return;
    }
    const trace = new RunTrace(tracer ?? noopTracer, instruments, run, foundry, notes.get(foundry));
    current = trace;
    if (owner !== undefined) {
      owner.trace = trace;
      trace.owner = owner;
    }
    listen(instruments.live);
    run.observeCompensation(trace.compensation.observer());
    // The run's own outcome, after every layer: a last checkpoint that failed in a layer outside
    // this one (instrumented after usePersistence) still fails the run's span.
    run.onSettled((outcome) => {
      if (current === trace) current = undefined;
      trace.settled = true;
      if (trace.owner === undefined) trace.end(outcome);
    });
  };

  const layer: OperationMiddleware = (context, next) => {
    const trace = current;
    if (trace === undefined || trace.run !== context.run) return next();
    return trace.operation(context, next);
  };
  // A plain property: hiding the hook behind an accessor when nothing records measured slower than
  // the await the engine spends on it.
  layer.start = start;
  (layer as unknown as Record<symbol, unknown>)[marker] = true;
  foundry.use(layer);
}
