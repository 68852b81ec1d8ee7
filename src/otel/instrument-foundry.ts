import type { Foundry } from "../foundry.js";
import type { OperationMiddleware, RunStart } from "../types.js";
import { attr } from "./attributes.js";
import { RunTrace, type RunOwner } from "./run-trace.js";
import { now } from "./spans.js";
import type { Telemetry } from "./telemetry.js";

// Marks this package's layer, so that a foundry is instrumented once.
const marker = Symbol.for("workflowforge.otel.layer");
// Handed by an instrumented smith to the run it starts on a foundry, which ends the run's span
// with the smith's final outcome (compensation and timeouts included).
const owners = new WeakMap<object, RunOwner>();
// How many runs a smith is about to start: without any, a run skips the look-up (which would
// make every new foundry hashable, a cost a bare foundry's short run notices).
let expected = 0;
// The recovery coordinator's attempt a foundry was created for (its runs' `workflowforge.run.attempt`).
const attempts = new WeakMap<object, number>();

/** Records the coordinator attempt `foundry` was created for, reported on its runs. */
export function noteAttempt(foundry: Foundry<any>, attempt: number): void {
  attempts.set(foundry, attempt);
}

/** Whether `foundry` already carries this package's tracing middleware. */
export function isInstrumented(foundry: Foundry<any>): boolean {
  return foundry.middleware.some((layer) => (layer as unknown as Record<symbol, unknown>)[marker] === true);
}

/** Called by an instrumented smith before it runs `foundry`: the run about to start is its. */
export function expectOwnedRun(foundry: Foundry<any>, owner: RunOwner): () => void {
  if (!owners.has(foundry)) expected++;
  owners.set(foundry, owner);
  return () => {
    if (owners.get(foundry) === owner) forget(foundry);
  };
}

function forget(foundry: Foundry<any>): void {
  if (owners.delete(foundry)) expected--;
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
      // Persistence restored the stored annotations and is about to claim the instance: the run's
      // span starts now, so that the claim already carries its trace context.
      foundry.on("snapshotRestored", () => current?.open());
      foundry.on("operationSkipped", (event) => current?.skipped(event.index, event.operationName));
      foundry.on("snapshotSaved", (event) => {
        const trace = current;
        const awaited = trace?.checkpoint;
        if (trace === undefined) return;
        if (awaited === undefined) return trace.saved(event.revision);
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
    const owner = expected === 0 ? undefined : owners.get(foundry);
    if (owner !== undefined) forget(foundry);
    const instruments = telemetry.meters.get();
    // Nothing is recorded (no SDK): the run gets no trace, and its chain leaves this layer out.
    if (!instruments.live && !telemetry.tracing) {
      current = undefined;
      bypass();
      return;
    }
    const trace = new RunTrace(telemetry, instruments, run, foundry, attempts.get(foundry));
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
