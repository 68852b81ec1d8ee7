import { abortError } from "./abort.js";
import type { Clock } from "./clock.js";
import type { ErrorLocation } from "./errors.js";
import type { WorkflowInfo } from "./types.js";

/**
 * What a wait operation waits for. A sleep's end is fixed when the operation is first reached;
 * `until` is an instant (epoch milliseconds); an event wait may give up after `timeoutMs`.
 */
export type WaitSpec =
  | { readonly kind: "sleep"; readonly ms: number }
  | { readonly kind: "until"; readonly at: number }
  | { readonly kind: "event"; readonly event: string; readonly timeoutMs?: number | undefined };

/** One wait, as the run asks its {@link WaitHost} for it. */
export interface WaitRequest {
  /** The wait operation's index in the workflow. */
  readonly index: number;
  readonly spec: WaitSpec;
  /** The operation's input: what a sleep passes on. */
  readonly input: unknown;
  readonly signal: AbortSignal;
}

/**
 * Makes the waits of one run durable (persistence provides it from its start hook). `wait`
 * resolves with the wait operation's output (a sleep's input, an event's payload), or rejects:
 * `WorkflowSuspendedError` when the run stopped to wait, `WaitTimeoutError` when an event wait
 * timed out.
 */
export interface WaitHost {
  wait(request: WaitRequest): Promise<unknown>;
}

/**
 * A wait with no host: a run without persistence sleeps in process on the foundry's clock (a crash
 * loses the time already waited); an event can only be received through persistence.
 */
export async function waitInProcess(spec: WaitSpec, input: unknown, clock: Clock, signal: AbortSignal, location: ErrorLocation): Promise<unknown> {
  if (spec.kind === "event") throw needsMailbox(`waitForEvent "${location.operationName ?? ""}"`);
  const ms = spec.kind === "sleep" ? spec.ms : Math.max(0, spec.at - clock.now());
  try {
    await clock.sleep(ms, signal);
  } catch (error) {
    throw signal.aborted ? abortError(signal, location) : error;
  }
  return input;
}

/**
 * The error for a run without a wait host that will reach a wait for an event (at `from` or after),
 * or undefined: the run refuses it before its first operation rather than once it reaches the wait,
 * after the operations before it had their effects.
 */
export function eventWaitWithoutHost(workflow: Pick<WorkflowInfo, "name" | "operations">, from: number): TypeError | undefined {
  const { operations } = workflow;
  for (let index = from; index < operations.length; index++) {
    const operation = operations[index];
    if (operation?.wait?.kind === "event") return needsMailbox(`waitForEvent "${operation.name}" of ${workflow.name}`);
  }
  return undefined;
}

function needsMailbox(wait: string): TypeError {
  return new TypeError(`${wait} needs usePersistence with a provider that declares capabilities.mailbox`);
}
