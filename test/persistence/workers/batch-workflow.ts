import { appendFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { createWorkflow, type Workflow } from "../../../src/index.js";

export const STEPS = 10;

/** What the workers share: where to log and how long a step takes. */
export interface BatchOptions {
  /** Each step appends `S|E <instance> <index> <owner> <epoch ms>` lines here. */
  readonly logFile: string;
  readonly owner: string;
  /** Milliseconds one step takes. */
  readonly stepMs: (index: number) => number;
  /**
   * Called once a step has logged its start; the step waits for the promise it returns. A worker
   * that is to be killed at a known point returns one that never settles.
   */
  readonly started?: (instance: string, index: number) => Promise<void> | undefined;
}

/**
 * "Batch" version 1: ten steps, each logging its start and end synchronously (so a SIGKILL
 * cannot lose a line that happened), marking its property and adding one to its input.
 */
export function batchWorkflow({ logFile, owner, stepMs, started }: BatchOptions): Workflow {
  let builder = createWorkflow("Batch").withVersion("1");
  for (let index = 0; index < STEPS; index++) {
    builder = builder.addOperation({
      name: `step-${index}`,
      forge: async (input: unknown, foundry, signal) => {
        appendFileSync(logFile, `S ${foundry.executionId} ${index} ${owner} ${Date.now()}\n`);
        await started?.(foundry.executionId, index);
        await sleep(stepMs(index), undefined, { signal });
        foundry.properties[`step${index}`] = true;
        appendFileSync(logFile, `E ${foundry.executionId} ${index} ${owner} ${Date.now()}\n`);
        return ((input as number | undefined) ?? 0) + 1;
      },
    });
  }
  return builder.build();
}

export interface StepRecord {
  readonly instance: string;
  readonly index: number;
  readonly owner: string;
  readonly start: number;
  /** When it ended, or undefined when its worker died during it. */
  readonly end: number | undefined;
  /** True when its worker logged the checkpoint after it (a "C" line): it landed in the store. */
  readonly checkpointed: boolean;
}

/**
 * Pairs the log's S and E lines into one record per execution of a step, and marks the ended
 * execution a C line (the checkpoint of the next operation, by the same owner) follows.
 */
export function readSteps(text: string): StepRecord[] {
  const open = new Map<string, { instance: string; index: number; owner: string; start: number }>();
  const ended = new Map<string, { end: number; checkpointed: boolean }>();
  const records: { instance: string; index: number; owner: string; start: number; end: number | undefined; checkpointed: boolean }[] = [];
  for (const line of text.split("\n")) {
    const [kind, instance = "", index = "", owner = "", time = ""] = line.split(" ");
    if (kind === "C") {
      const last = ended.get(`${instance} ${Number(index) - 1} ${owner}`);
      if (last !== undefined) last.checkpointed = true;
      continue;
    }
    if (kind !== "S" && kind !== "E") continue;
    const key = `${instance} ${index} ${owner}`;
    if (kind === "S") {
      const unfinished = open.get(key);
      if (unfinished !== undefined) records.push({ ...unfinished, end: undefined, checkpointed: false });
      open.set(key, { instance, index: Number(index), owner, start: Number(time) });
    } else {
      const started = open.get(key);
      if (started === undefined) throw new Error(`log: end without start: ${line}`);
      open.delete(key);
      const record = { ...started, end: Number(time), checkpointed: false };
      records.push(record);
      ended.set(key, record);
    }
  }
  for (const unfinished of open.values()) records.push({ ...unfinished, end: undefined, checkpointed: false });
  return records;
}
