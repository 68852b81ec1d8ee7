import type { RecoveryOutcome } from "../persistence/recovery/report.js";
import type { InstanceIdentity } from "../types.js";
import type { InstanceTrace } from "./run-span.js";

/**
 * The first run of each instance a coordinator is resuming, kept in memory from one of its attempts
 * at the instance to the next: an attempt the smith's timeout (or the caller's signal) stopped in
 * its first operation stored nothing, so the record its retry loads has no trace context. Kept
 * until the coordinator reports the instance's outcome: its attempts are over then.
 */
export class InstanceTraces {
  readonly #traces = new Map<string, InstanceTrace>();

  /** The first run of the instance, shared by every attempt at it until its outcome. */
  of(identity: InstanceIdentity): InstanceTrace {
    const key = keyOf(identity);
    let instance = this.#traces.get(key);
    if (instance === undefined) {
      instance = { first: undefined };
      this.#traces.set(key, instance);
    }
    return instance;
  }

  /** The coordinator reported `outcome`: the attempts at its instance are over. */
  settled(outcome: RecoveryOutcome): void {
    // Reported beside attempts still under way at the instance (a second resume of it): not theirs.
    if (outcome.status === "skipped" && outcome.reason === "in-progress") return;
    this.#traces.delete(keyOf(outcome));
  }
}

// The two keys, unambiguous whatever characters they hold.
const keyOf = ({ instanceId, workflowKey }: InstanceIdentity): string => JSON.stringify([instanceId, workflowKey]);
