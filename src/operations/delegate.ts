import type { Foundry } from "../foundry.js";
import { requireFunction, requireName, requireOptionalFunction } from "../internal/validate.js";
import type { MaybePromise, Operation } from "../types.js";
import type { RestoreDataOf } from "../outcome.js";

/** An operation whose output is what `forge` returns; `restore` (optional) undoes it. */
export function delegate<TInput = any, TOutput = any, P extends object = any>(
  name: string,
  forge: (input: TInput, foundry: Foundry<P>, signal: AbortSignal) => MaybePromise<TOutput>,
  restore?: (output: RestoreDataOf<TOutput>, foundry: Foundry<P>, signal: AbortSignal) => MaybePromise<unknown>,
): Operation<TInput, TOutput, P> {
  requireName(name, "delegate(name)");
  requireFunction(forge, `operation "${name}": forge`);
  requireOptionalFunction(restore, `operation "${name}": restore`);
  return restore === undefined ? { name, forge } : { name, forge, restore };
}
