import { requireFunction, requireName, requireOptionalFunction } from "../internal/validate.js";
import type { RestoreDataResult } from "../outcome.js";
import type { ForgeFunction, Operation, RestoreFunction } from "../types.js";

/** An operation whose output is what `forge` returns; `restore` (optional) undoes it, given a `withRestoreData` result's `data`. */
export function delegate<TInput = any, TOutput = any, TData = any, P extends object = any>(
  name: string,
  forge: ForgeFunction<TInput, RestoreDataResult<TOutput, TData>, P>,
  restore?: RestoreFunction<TData, P>,
): Operation<TInput, RestoreDataResult<TOutput, TData>, P>;
export function delegate<TInput = any, TOutput = any, P extends object = any>(name: string, forge: ForgeFunction<TInput, TOutput, P>, restore?: RestoreFunction<TOutput, P>): Operation<TInput, TOutput, P>;
export function delegate(name: string, forge: ForgeFunction<any, any, any>, restore?: RestoreFunction<any, any>): Operation {
  requireName(name, "delegate(name)");
  requireFunction(forge, `operation "${name}": forge`);
  requireOptionalFunction(restore, `operation "${name}": restore`);
  return restore === undefined ? { name, forge } : { name, forge, restore };
}
