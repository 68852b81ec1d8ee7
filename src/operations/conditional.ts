import { abortError } from "../abort.js";
import type { Foundry } from "../foundry.js";
import { assertOperation } from "../foundry.js";
import { requireFunction, requireName } from "../internal/validate.js";
import { outputOf, restoreDataOf, withRestoreData } from "../outcome.js";
import { refuseNestedWait } from "./wait.js";
import type { MaybePromise, Operation } from "../types.js";

/** What a conditional remembers for its restore: the branch taken and that branch's payload. */
export interface ConditionalRecord {
  readonly branch: "then" | "else";
  readonly data: unknown;
}

/**
 * Runs `whenTrue` or `whenFalse` depending on `predicate`. Without `whenFalse` a false predicate
 * passes the input through. The branch taken is part of the restore payload (and so of the
 * persisted snapshot), so compensation undoes the right branch even in another process.
 */
export function conditional<P extends object = any>(
  name: string,
  predicate: (input: any, foundry: Foundry<P>, signal: AbortSignal) => MaybePromise<boolean>,
  whenTrue: Operation<any, any, P>,
  whenFalse?: Operation<any, any, P>,
): Operation<any, any, P> {
  requireName(name, "conditional(name)");
  requireFunction(predicate, `conditional "${name}": predicate`);
  assertOperation(whenTrue, `conditional "${name}": whenTrue`);
  refuseNestedWait(whenTrue, `conditional "${name}": whenTrue`);
  if (whenFalse !== undefined) assertOperation(whenFalse, `conditional "${name}": whenFalse`);
  if (whenFalse !== undefined) refuseNestedWait(whenFalse, `conditional "${name}": whenFalse`);
  const branchOf = (branch: ConditionalRecord["branch"]): Operation<any, any, P> | undefined =>
    branch === "then" ? whenTrue : whenFalse;

  const operation: Operation<any, any, P> = {
    name,
    async forge(input, foundry, signal) {
      const branch = (await predicate(input, foundry, signal)) ? "then" : "else";
      // The run may have been aborted (or timed out) while the predicate ran: no branch starts after that.
      if (signal.aborted) throw abortError(signal, { operationName: name });
      const chosen = branchOf(branch);
      if (chosen === undefined) return withRestoreData(input, { branch, data: undefined });
      const result: unknown = await chosen.forge(input, foundry, signal);
      return withRestoreData(outputOf(result), { branch, data: restoreDataOf(result) } satisfies ConditionalRecord);
    },
  };
  if (whenTrue.restore === undefined && whenFalse?.restore === undefined) return operation;
  return {
    ...operation,
    async restore(record: unknown, foundry, signal) {
      // Not its record: a layer answered for it, recovering its branch's failure or without running
      // it. No branch ran to completion, so none is undone (an else branch least of all).
      if (!isConditionalRecord(record)) return;
      await branchOf(record.branch)?.restore?.(record.data, foundry, signal);
    },
  };
}

// A record this conditional returned, as it reads after a JSON round trip too (`data` may be gone).
function isConditionalRecord(value: unknown): value is ConditionalRecord {
  if (typeof value !== "object" || value === null) return false;
  const { branch } = value as Partial<ConditionalRecord>;
  return (branch === "then" || branch === "else") && Object.keys(value).every((key) => key === "branch" || key === "data");
}
