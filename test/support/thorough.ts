/**
 * How many rounds, instances or kills a slow suite runs. A local `npm test` runs `local`, to stay
 * within its five-minute budget on two cores; `.ci/run` sets WORKFLOWFORGE_THOROUGH=1 and runs
 * `thorough`, the counts the guarantees were specified at. The suite's own variable, when set, wins
 * over both (`WORKFLOWFORGE_CANCEL_ROUNDS=20 npx vitest run …` to hunt a rare failure).
 */
export function scaled(variable: string, local: number, thorough: number): number {
  const set = process.env[variable];
  if (set === undefined || set === "") return process.env.WORKFLOWFORGE_THOROUGH === "1" ? thorough : local;
  const count = Number(set);
  if (!Number.isSafeInteger(count) || count < 1) throw new TypeError(`${variable} must be a positive whole number, got ${JSON.stringify(set)}`);
  return count;
}
