// Workflows and foundries of counted operations: how often each ran, what it received and what
// its restore got, over a failed run and its resume.

import { createFoundry, createWorkflow, type Foundry, type Workflow } from "../../src/index.js";

type MaybePromise<T> = T | Promise<T>;

/** What the counted operations did: how often each ran and what each received. */
export interface OperationLog {
  /** runs[i]: how many times operation i's forge ran, over every run sharing this log. */
  readonly runs: number[];
  /** inputs[i]: the inputs operation i received, in order. */
  readonly inputs: unknown[][];
  /** restores[i]: the payloads operation i's restore received, in order. */
  readonly restores: unknown[][];
  /** Every forge and restore, in order: "forge:1", "restore:0". */
  readonly events: string[];
}

export function operationLog(): OperationLog {
  return { runs: [], inputs: [], restores: [], events: [] };
}

export interface CountedOptions {
  /** The operation names. @default "op-0" … "op-{n-1}" */
  readonly names?: readonly string[];
  /** What operation i returns. @default `out-${i}` */
  readonly output?: (index: number, input: unknown) => unknown;
  /** Called inside operation i's forge after it is counted; throw to make it fail. */
  readonly onForge?: (index: number, attempt: number, foundry: Foundry<any>, signal: AbortSignal) => MaybePromise<void>;
  /** Which operations get a restore that logs its payload. @default none */
  readonly restore?: (index: number) => boolean;
  /** Shared across runs so counts add up over a failed run and its resume. */
  readonly log?: OperationLog;
}

interface CountedOperation {
  readonly name: string;
  forge(input: unknown, foundry: Foundry<any>, signal: AbortSignal): Promise<unknown>;
  restore?(output: unknown): void;
}

function countedOperations(count: number, options: CountedOptions, log: OperationLog): CountedOperation[] {
  return Array.from({ length: count }, (_, index) => {
    const name = options.names?.[index] ?? `op-${index}`;
    const forge = async (input: unknown, foundry: Foundry<any>, signal: AbortSignal): Promise<unknown> => {
      log.runs[index] = (log.runs[index] ?? 0) + 1;
      (log.inputs[index] ??= []).push(input);
      log.events.push(`forge:${index}`);
      await options.onForge?.(index, log.runs[index], foundry, signal);
      return options.output === undefined ? `out-${index}` : options.output(index, input);
    };
    if (options.restore?.(index) !== true) return { name, forge };
    const restore = (output: unknown): void => {
      (log.restores[index] ??= []).push(output);
      log.events.push(`restore:${index}`);
    };
    return { name, forge, restore };
  });
}

/** How many times each of `count` operations ran: zeros for those that never ran. */
export function runCounts(log: OperationLog, count: number): number[] {
  return Array.from({ length: count }, (_, index) => log.runs[index] ?? 0);
}

/** A bare foundry with `count` counted operations; its workflow id is its name. */
export function countedFoundry<P extends object = Record<string, unknown>>(
  count: number,
  options: CountedOptions & { readonly name?: string; readonly executionId?: string; readonly properties?: P } = {},
): { foundry: Foundry<P>; log: OperationLog } {
  const log = options.log ?? operationLog();
  const init = {
    ...(options.executionId === undefined ? {} : { executionId: options.executionId }),
    ...(options.properties === undefined ? {} : { properties: options.properties }),
  };
  const foundry = createFoundry<P>(options.name ?? "Counted", init);
  for (const operation of countedOperations(count, options, log)) foundry.addOperation(operation);
  return { foundry, log };
}

/** A built workflow with `count` counted operations, to run with createSmith. */
export function countedWorkflow(
  count: number,
  options: CountedOptions & { readonly name?: string; readonly version?: string } = {},
): { workflow: Workflow; log: OperationLog } {
  const log = options.log ?? operationLog();
  let builder = createWorkflow(options.name ?? "CountedWorkflow");
  if (options.version !== undefined) builder = builder.withVersion(options.version);
  for (const operation of countedOperations(count, options, log)) builder = builder.addOperation(operation);
  return { workflow: builder.build(), log };
}

/** The default operation names of the counted factories. */
export function opNames(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `op-${index}`);
}
