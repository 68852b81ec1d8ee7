import { appendFileSync, readFileSync } from "node:fs";

// The record the crash workload keeps and the harness reads: one line per event, appended
// synchronously, so that whatever moment a SIGKILL lands at, every line before it is on disk.
//   <instance> <step>                  a step started (before its checkpoint)
//   <instance> completing <properties> all steps done; the snapshot's deletion starts
//   <instance> completed <properties>  the snapshot is deleted: the run is complete
//   <instance> output <output>         forge() resolved with this

/** What the crash workload computes; an uninterrupted run of `steps` steps yields {@link expectedCrashResult}. */
export interface CrashResult {
  readonly output: number;
  readonly properties: { readonly sum: number; readonly visited: readonly number[] };
}

export function expectedCrashResult(steps: number): CrashResult {
  const visited = Array.from({ length: steps }, (_, i) => i);
  return { output: steps, properties: { sum: visited.reduce((a, b) => a + b, 0), visited } };
}

/** A completed run as the log tells it: its output is missing when a kill landed just before forge() reported it. */
export interface CrashOutcome {
  readonly output: number | undefined;
  readonly properties: CrashResult["properties"];
}

/** Printed on stdout as the run starts: the harness times its kill from here, since a child's start-up can outlast a run. */
export const startedLine = "workflowforge-crash-workload: started";
/** Printed on stdout once forge() resolved: with the start, how long a run takes, without the process's start and exit. */
export const finishedLine = "workflowforge-crash-workload: finished";

export type CrashLogEvent = "completing" | "completed" | "output";

/** Appends one line of `instanceId`'s record. */
export function appendCrashLog(logFile: string, instanceId: string, event: number | CrashLogEvent, value?: unknown): void {
  appendFileSync(logFile, `${instanceId} ${event}${value === undefined ? "" : ` ${JSON.stringify(value)}`}\n`);
}

/** One instance's record so far: executions per step, how many deletions started and ended, and the last completed run. */
export interface CrashLog {
  readonly executions: readonly number[];
  /** Every step started, in order: where an attempt began is the first of those after the log before it. */
  readonly started: readonly number[];
  readonly completing: number;
  readonly completed: number;
  readonly result: CrashOutcome | undefined;
}

export function readCrashLog(logFile: string, instanceId: string, steps: number): CrashLog {
  const executions = new Array<number>(steps).fill(0);
  const started: number[] = [];
  let completing = 0;
  let completed = 0;
  let properties: CrashResult["properties"] | undefined;
  let output: number | undefined;
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    if (!line.startsWith(`${instanceId} `)) continue;
    const rest = line.slice(instanceId.length + 1);
    const space = rest.indexOf(" ");
    const event = space === -1 ? rest : rest.slice(0, space);
    const value = space === -1 ? undefined : (JSON.parse(rest.slice(space + 1)) as unknown);
    if (event === "completing") completing += 1;
    else if (event === "completed") {
      // A new run's completion: its output is the one reported after it, if any.
      completed += 1;
      properties = value as CrashResult["properties"];
      output = undefined;
    }
    else if (event === "output") output = value as number;
    else {
      executions[Number(event)]! += 1;
      started.push(Number(event));
    }
  }
  return { executions, started, completing, completed, result: properties === undefined ? undefined : { output, properties } };
}
