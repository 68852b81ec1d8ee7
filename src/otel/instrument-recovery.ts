import { createFoundry } from "../foundry.js";
import { resolveCoordinatorOptions, type RecoveryCoordinatorOptions } from "../persistence/recovery/coordinator-options.js";
import type { WorkflowExecutionSnapshot } from "../persistence/snapshot.js";
import { createSmith } from "../smith.js";
import { attr } from "./attributes.js";
import { instrumentFoundry, isInstrumented, noteRun } from "./instrument-foundry.js";
import { instrumentSmith } from "./instrument-smith.js";
import { InstanceTraces } from "./instance-traces.js";
import type { Telemetry } from "./telemetry.js";

// The createFoundry of options instrumentRecovery returned: it survives a spread of those options.
const wrapped = new WeakSet<object>();

/** Whether `options` came from {@link instrumentRecovery} (or a spread of what it returned). */
export function isInstrumentedRecovery(options: RecoveryCoordinatorOptions): boolean {
  return options.createFoundry !== undefined && wrapped.has(options.createFoundry);
}

/**
 * The coordinator's options with every attempt traced: each foundry it creates is instrumented
 * before the coordinator adds persistence (so an operation's span covers its checkpoint), its
 * smith is instrumented (yours, when given: it is changed in place), and dead letters are counted.
 */
export function instrumentRecovery(options: RecoveryCoordinatorOptions, telemetry: Telemetry): RecoveryCoordinatorOptions {
  // Checked as the coordinator checks them, before they are wrapped: a wrapper would hide a bad
  // createFoundry, smith or onOutcome until the first instance failed with it.
  resolveCoordinatorOptions(options);
  const create = options.createFoundry ?? ((snapshot) => createFoundry(snapshot.workflowName, { executionId: snapshot.foundryExecutionId }));
  const smith = options.smith ?? createSmith();
  instrumentSmith(smith, telemetry);
  const onOutcome = options.onOutcome;
  const instances = new InstanceTraces();
  const createInstrumented: NonNullable<RecoveryCoordinatorOptions["createFoundry"]> = async (snapshot) => {
    const foundry = await create(snapshot);
    if (!isInstrumented(foundry)) instrumentFoundry(foundry, telemetry);
    const attempt = (snapshot.attempts ?? 0) + 1;
    const instance = instances.of({ instanceId: snapshot.foundryExecutionId, workflowKey: snapshot.workflowId });
    noteRun(foundry, { attempt, claimed: claimedFor(snapshot, options.owner), fresh: attempt === 1 && isEnqueued(snapshot), instance });
    return foundry;
  };
  wrapped.add(createInstrumented);
  return {
    ...options,
    smith,
    createFoundry: createInstrumented,
    onOutcome: (outcome) => {
      instances.settled(outcome);
      if (outcome.status === "failed" && outcome.deadLettered) {
        const instruments = telemetry.meters.get();
        if (instruments.live) instruments.deadLetters.add(1, { [attr.workflowKey]: outcome.workflowKey });
      }
      onOutcome?.(outcome);
    },
  };
}

// As enqueue() stores an instance: every save of a run carries a timeline, and a claim or its
// give-back changes only the claim's columns (a give-back by close() after an operation started
// also stores the run's trace context, which makes the next run a resumed one all the same). A
// coordinator's run that died before its first save left it so, but counted an attempt, which
// `attempt === 1` rules out. Past 1,000 operations no save carries a timeline: there a plain
// leased run that died in operation 0 looks enqueued.
function isEnqueued(snapshot: WorkflowExecutionSnapshot): boolean {
  return snapshot.timeline === undefined && snapshot.nextOperationIndex === 0 && snapshot.status === "running";
}

// The coordinator hands over a record it claimed for the run with its live lease (leases are real
// time): the run adopts that claim without writing one. A record with no live lease the run claims
// itself, through a save its trace sees.
function claimedFor(snapshot: WorkflowExecutionSnapshot, owner: string | undefined): number | undefined {
  if (owner !== undefined && snapshot.owner !== owner) return undefined;
  const lease = snapshot.leaseExpiresAt === undefined ? Number.NaN : Date.parse(snapshot.leaseExpiresAt);
  return lease > Date.now() ? snapshot.revision : undefined;
}
