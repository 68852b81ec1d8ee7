import type { RunPlan } from "./run-plan.js";
import type { OperationMiddleware, RunStart } from "./types.js";
import { isThenable } from "./internal/thenable.js";

/** Whether any of `middleware` has a start hook. */
export function hasStartHooks(middleware: readonly OperationMiddleware[]): boolean {
  for (const layer of middleware) if (layer.start !== undefined) return true;
  return false;
}

/** What the run gives its hooks, and where it collects the layers that bypass the run. */
export interface HookStart extends Omit<RunStart<any>, "bypass"> {
  readonly bypassed: OperationMiddleware[];
}

// One context per hook: its `bypass` names its own layer.
function contextFor(start: HookStart, layer: OperationMiddleware): RunStart<any> {
  return { run: start.run, foundry: start.foundry, input: start.input, signal: start.signal, bypass: () => void (start.bypassed.includes(layer) || start.bypassed.push(layer)) };
}

/**
 * Calls every middleware's `start` hook in the order the middleware was added, each after the one
 * before it settled, inside `plan`'s start window. Returns undefined when every hook returned
 * synchronously, so that a run whose hooks have nothing to wait for starts its first operation
 * without an extra turn; otherwise a promise of the remaining hooks, rejected as is by a hook's
 * error.
 */
export function runStartHooks(middleware: readonly OperationMiddleware[], start: HookStart, plan: RunPlan): Promise<void> | undefined {
  plan.open();
  try {
    for (let index = 0; index < middleware.length; index++) {
      const hook = middleware[index]?.start;
      if (hook === undefined) continue;
      const result = hook(contextFor(start, middleware[index] as OperationMiddleware));
      if (isThenable(result)) return rest(middleware, start, plan, result, index + 1);
    }
  } catch (error) {
    plan.close();
    return rejected(error);
  }
  plan.close();
  return undefined;
}

async function rest(middleware: readonly OperationMiddleware[], start: HookStart, plan: RunPlan, pending: PromiseLike<unknown>, from: number): Promise<void> {
  try {
    await pending;
    for (let index = from; index < middleware.length; index++) {
      const hook = middleware[index]?.start;
      if (hook !== undefined) await hook(contextFor(start, middleware[index] as OperationMiddleware));
    }
  } finally {
    plan.close();
  }
}

function rejected(error: unknown): Promise<never> {
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a hook's throw is forwarded unchanged
  return Promise.reject(error);
}
