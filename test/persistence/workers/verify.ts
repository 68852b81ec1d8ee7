import { STEPS, type StepRecord } from "./batch-workflow.js";

/** When the parent killed each worker owner (epoch ms). */
export type Kills = ReadonlyMap<string, number>;

/**
 * Checks the step log of a many-workers run against acceptance 1 and returns every violation:
 * - every step of every instance ended at least once;
 * - executions of one instance never overlap across owners (a killed worker's unfinished step is
 *   taken to last until its kill);
 * - a step ran more than once only when every earlier execution belonged to a worker that was
 *   killed before it checkpointed the step or went on to the next step of that instance.
 */
export function verifySteps(steps: readonly StepRecord[], instances: readonly string[], kills: Kills): string[] {
  const violations: string[] = [];
  const byInstance = new Map<string, StepRecord[]>();
  for (const step of steps) (byInstance.get(step.instance) ?? byInstance.set(step.instance, []).get(step.instance))?.push(step);
  for (const instance of instances) {
    const executions = (byInstance.get(instance) ?? []).slice().sort((a, b) => a.start - b.start);
    violations.push(...missingSteps(instance, executions), ...overlaps(instance, executions, kills), ...repeats(instance, executions, kills));
  }
  return violations;
}

function missingSteps(instance: string, executions: readonly StepRecord[]): string[] {
  const ended = new Set(executions.filter((step) => step.end !== undefined).map((step) => step.index));
  return Array.from({ length: STEPS }, (_, index) => index)
    .filter((index) => !ended.has(index))
    .map((index) => `${instance}: step ${index} never completed`);
}

function overlaps(instance: string, executions: readonly StepRecord[], kills: Kills): string[] {
  const violations: string[] = [];
  let holder: { owner: string; until: number } | undefined;
  for (const step of executions) {
    if (holder !== undefined && holder.owner !== step.owner && step.start < holder.until) {
      violations.push(`${instance}: ${step.owner} started step ${step.index} at ${step.start} while ${holder.owner} ran until ${holder.until}`);
    }
    const until = step.end ?? kills.get(step.owner) ?? Number.POSITIVE_INFINITY;
    if (holder === undefined || holder.owner !== step.owner || until > holder.until) holder = { owner: step.owner, until };
  }
  return violations;
}

function repeats(instance: string, executions: readonly StepRecord[], kills: Kills): string[] {
  const violations: string[] = [];
  for (let index = 0; index < STEPS; index++) {
    const runs = executions.filter((step) => step.index === index);
    for (const earlier of runs.slice(0, -1)) {
      const wentOn = executions.some((step) => step.owner === earlier.owner && step.start > earlier.start && step.index > index);
      if (!kills.has(earlier.owner) || earlier.checkpointed || wentOn) {
        violations.push(`${instance}: step ${index} ran again after ${earlier.owner} ran it at ${earlier.start} without being killed during it`);
      }
    }
  }
  return violations;
}
