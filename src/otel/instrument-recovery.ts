import { createFoundry } from "../foundry.js";
import type { RecoveryCoordinatorOptions } from "../persistence/recovery/coordinator-options.js";
import { createSmith } from "../smith.js";
import { attr } from "./attributes.js";
import { instrumentFoundry, isInstrumented, noteAttempt } from "./instrument-foundry.js";
import { instrumentSmith } from "./instrument-smith.js";
import type { Telemetry } from "./telemetry.js";

/**
 * The coordinator's options with every attempt traced: each foundry it creates is instrumented
 * before the coordinator adds persistence (so an operation's span covers its checkpoint), its
 * smith is instrumented (yours, when given: it is changed in place), and dead letters are counted.
 */
export function instrumentRecovery(options: RecoveryCoordinatorOptions, telemetry: Telemetry): RecoveryCoordinatorOptions {
  const create = options.createFoundry ?? ((snapshot) => createFoundry(snapshot.workflowName, { executionId: snapshot.foundryExecutionId }));
  const smith = options.smith ?? createSmith();
  instrumentSmith(smith, telemetry);
  const onOutcome = options.onOutcome;
  return {
    ...options,
    smith,
    createFoundry: async (snapshot) => {
      const foundry = await create(snapshot);
      if (!isInstrumented(foundry)) instrumentFoundry(foundry, telemetry);
      noteAttempt(foundry, (snapshot.attempts ?? 0) + 1);
      return foundry;
    },
    onOutcome: (outcome) => {
      if (outcome.status === "failed" && outcome.deadLettered) {
        const instruments = telemetry.meters.get();
        if (instruments.live) instruments.deadLetters.add(1, { [attr.workflowKey]: outcome.workflowKey });
      }
      onOutcome?.(outcome);
    },
  };
}
