import type { WorkflowExecutionSnapshot } from "../../../src/persistence/index.js";

/**
 * What the workers of a one-step run logged, by instance: `R` lines from the operation (who ran it
 * and which `instance` property it saw), `D` / `F` / `K` lines from the workers' resumeAll reports
 * (resumed, failed with a message, skipped with a reason).
 */
export interface RunLog {
  readonly runs: Map<string, { readonly owner: string; readonly seen: string }[]>;
  readonly resumed: Map<string, string[]>;
  readonly failed: string[];
  /** Skipped outcomes by reason. */
  readonly skipped: Map<string, number>;
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  (map.get(key) ?? map.set(key, []).get(key))?.push(value);
}

export function readRuns(text: string): RunLog {
  const log: RunLog = { runs: new Map(), resumed: new Map(), failed: [], skipped: new Map() };
  for (const line of text.split("\n")) {
    const [kind, instance = "", owner = "", detail = ""] = line.split(" ");
    if (kind === "R") push(log.runs, instance, { owner, seen: detail });
    else if (kind === "D") push(log.resumed, instance, owner);
    else if (kind === "F") log.failed.push(line);
    else if (kind === "K") log.skipped.set(detail, (log.skipped.get(detail) ?? 0) + 1);
  }
  return log;
}

/**
 * Every violation of "no worker was killed, so each instance ran exactly once, from its enqueued
 * record": an operation that ran other than once or without the enqueued property, a completion
 * reported other than once, any failed outcome, and anything logged for an instance never enqueued.
 */
export function verifyRuns(log: RunLog, instances: readonly string[]): string[] {
  const violations = log.failed.map((line) => `a worker reported a failure: ${line}`);
  const known = new Set(instances);
  for (const instance of new Set([...log.runs.keys(), ...log.resumed.keys()])) {
    if (!known.has(instance)) violations.push(`${instance}: logged but never enqueued`);
  }
  for (const instance of instances) {
    const runs = log.runs.get(instance) ?? [];
    if (runs.length !== 1) violations.push(`${instance}: the operation ran ${runs.length} times (${runs.map((run) => run.owner).join(", ")})`);
    for (const run of runs.filter((run) => run.seen !== instance)) violations.push(`${instance}: ${run.owner} ran the operation with instance property "${run.seen}"`);
    const resumed = log.resumed.get(instance) ?? [];
    if (resumed.length !== 1) violations.push(`${instance}: reported resumed ${resumed.length} times (${resumed.join(", ")})`);
  }
  return violations;
}

/**
 * Every record that did not end as it should: with onComplete "keep", each instance is stored
 * `completed` with the property it was enqueued with; with "delete", none is left.
 */
export function verifyStored(stored: readonly WorkflowExecutionSnapshot[], instances: readonly string[], onComplete: "keep" | "delete"): string[] {
  const byId = new Map(stored.map((snapshot) => [snapshot.foundryExecutionId, snapshot]));
  return instances.flatMap((instance) => {
    const snapshot = byId.get(instance);
    if (onComplete === "delete") return snapshot === undefined ? [] : [`${instance}: still stored with status ${snapshot.status}`];
    if (snapshot === undefined) return [`${instance}: its record was lost`];
    const seen = snapshot.properties.instance;
    return snapshot.status === "completed" && seen === instance ? [] : [`${instance}: stored with status ${snapshot.status} and instance property "${String(seen)}"`];
  });
}
