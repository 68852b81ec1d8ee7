import type { Foundry } from "../foundry.js";
import { requireFunction, requireName, requireOptionalFunction } from "../internal/validate.js";
import type { MaybePromise, Operation } from "../types.js";

/** What an action does, and what undoes it: both receive the action's input. */
type Effect<TInput, P extends object> = (input: TInput, foundry: Foundry<P>, signal: AbortSignal) => MaybePromise<unknown>;

/**
 * An operation run for its side effect: it passes its input through unchanged, so the next
 * operation receives what this one received. `restore`, when given, receives that input.
 */
export function action<TInput = any, P extends object = any>(name: string, effect: Effect<TInput, P>, restore?: Effect<TInput, P>): Operation<TInput, TInput, P> {
  requireName(name, "action(name)");
  requireFunction(effect, `action "${name}": effect`);
  requireOptionalFunction(restore, `action "${name}": restore`);
  const forge = async (input: TInput, foundry: Foundry<P>, signal: AbortSignal): Promise<TInput> => {
    await effect(input, foundry, signal);
    return input;
  };
  return restore === undefined ? { name, forge } : { name, forge, restore };
}
