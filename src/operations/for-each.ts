import { abortError, abortWith, linkedSignal, neverAborted } from "../abort.js";
import { childIdempotencyKey } from "../idempotency.js";
import { scopedFoundry } from "../scoped-foundry.js";
import { WorkflowForgeError, isWorkflowForgeError, preventsCompensation } from "../errors.js";
import { quotedMessageOf } from "../internal/thrown.js";
import type { Foundry } from "../foundry.js";
import { assertOperation } from "../foundry.js";
import { requireName, requireOptionsObject, rejectUnknownKeys } from "../internal/validate.js";
import { outputOf, restoreDataOf, withRestoreData } from "../outcome.js";
import type { Operation } from "../types.js";
import { refuseNestedWait } from "./wait.js";
import { logSafely } from "../logger.js";

/** How a forEach hands its input to its children. */
export type ForEachInput = "shared" | "split" | "none";

export interface ForEachOptions {
  /** How many children run at once. @default Infinity (all at once) */
  readonly concurrency?: number | undefined;
  /**
   * `"shared"`: every child receives the input; `"split"`: the input is an array and child i
   * receives element i; `"none"`: children receive `undefined`. @default "shared"
   */
  readonly input?: ForEachInput | undefined;
}

/** A child of a forEach failed. Completed children were restored before this was raised. */
export class ForEachChildError extends WorkflowForgeError {
  readonly childIndex: number;
  readonly childName: string;
  // Located at the forEach (its operationName); the run fills in the workflow and the index.
  constructor(parent: string, childIndex: number, childName: string, cause: unknown) {
    super("FOR_EACH_CHILD_FAILED", `forEach "${parent}": child #${childIndex} "${childName}" failed: ${quotedMessageOf(cause)}`, { operationName: parent, cause });
    this.childIndex = childIndex;
    this.childName = childName;
  }
}

// One call of a forEach's forge: what its children completed with, and which are done and not
// yet undone.
interface Batch {
  readonly outputs: unknown[];
  readonly data: unknown[];
  readonly done: boolean[];
  readonly operationSignal: AbortSignal;
  readonly undo: () => Promise<void>;
}

// The children's signal of each running forEach, to the signal of the workflow's operation it is
// part of: a nested forEach finds there what its own undo follows.
const operationSignals = new WeakMap<AbortSignal, AbortSignal>();

/**
 * Runs `children` concurrently (up to `concurrency` at once). Its output is the children's outputs
 * in child order. When a child fails, the others are aborted, the completed ones are restored,
 * and the forEach rejects with {@link ForEachChildError} naming the failed child's index. So its
 * own restore, handed what a layer recovered that failure with (anything but an array of one entry
 * per child), undoes nothing a second time. In a child (and its restore),
 * `foundry.idempotencyKey(suffix?)` is the forEach's key then `/#<child index>`: each child its own.
 */
export function forEach<P extends object = any>(
  name: string,
  children: readonly Operation<any, any, P>[],
  options: ForEachOptions = {},
): Operation<any, unknown[], P> {
  requireName(name, "forEach(name)");
  if (!Array.isArray(children as unknown)) throw new TypeError(`forEach "${name}": children must be an array of operations`);
  children.forEach((child, i) => {
    assertOperation(child, `forEach "${name}": children[${i}]`);
    refuseNestedWait(child, `forEach "${name}": children[${i}]`);
  });
  rejectUnknownKeys(requireOptionsObject(options, `forEach "${name}": options`), ["concurrency", "input"], `forEach "${name}"`);
  // Only a missing option takes its default: null is bad input, not "unset".
  const limit = options.concurrency === undefined ? Infinity : options.concurrency;
  if (limit !== Infinity && (!Number.isInteger(limit) || limit < 1)) {
    throw new TypeError(`forEach "${name}": concurrency must be a positive integer, got ${String(limit)}`);
  }
  const strategy = options.input === undefined ? "shared" : options.input;
  if (!["shared", "split", "none"].includes(strategy)) {
    throw new TypeError(`forEach "${name}": input must be "shared", "split" or "none", got ${JSON.stringify(strategy)}`);
  }
  const list = [...children];
  const restores = list.some((child) => child.restore !== undefined);

  // Restores the children marked done, newest first, unmarking each before its restore starts so
  // that no child is undone twice; a failing restore never keeps the others from running. The
  // signal is chosen per child: an operation's timeout may fire between two restores, and one
  // that fires during a restore aborted what that restore was handed, so it runs again with the
  // signal that follows. Resolves with the failures.
  const restoreAll = async (data: readonly unknown[], done: boolean[], foundry: Foundry<P>, signalFor: () => AbortSignal) => {
    const failures: { readonly index: number; readonly error: unknown }[] = [];
    for (let i = list.length - 1; i >= 0; i--) {
      if (done[i] !== true) continue;
      done[i] = false;
      const restore = async (signal: AbortSignal): Promise<void> => void (await list[i]?.restore?.(data[i], childFoundry(foundry, i), signal));
      const signal = signalFor();
      try {
        // Again only when it rejected with the abort itself: one that failed for its own reason may have undone something.
        await restore(signal).catch(async (error: unknown) => {
          if (!signal.aborted || !isCutShort(error, signal) || signalFor() === signal) throw error;
          await restore(signalFor());
        });
      } catch (error) {
        failures.push({ index: i, error });
      }
    }
    return failures;
  };

  // Undoes what is done and not yet undone, one undo after the other (the timeout's, a late
  // child's, a failure's), logging the restores that fail. An undo handed an aborted signal gives
  // up at once (a fetch does), and nothing else undoes these children: they are undone with the
  // operation's signal, which the run's abort still reaches (an outer sibling's failure aborted
  // only this forEach's), or, after the operation's own timeout, which waits for none of it, with
  // one that never aborts.
  const undoer = (data: readonly unknown[], done: boolean[], foundry: Foundry<P>, operationSignal: AbortSignal): (() => Promise<void>) => {
    const signalFor = (): AbortSignal => (timedOut(operationSignal) ? neverAborted : operationSignal);
    let undoing = Promise.resolve();
    return () =>
      (undoing = undoing.then(async () => {
        for (const { index, error } of await restoreAll(data, done, foundry, signalFor)) {
          logSafely(foundry.logger, "error", `forEach "${name}": restore of child #${index} "${list[index]?.name ?? ""}" failed`, error);
        }
      }));
  };

  // Runs the children, up to `limit` at once, until one fails: resolves with that failure, if any.
  const forgeChildren = async (batch: Batch, inputs: readonly unknown[], foundry: Foundry<P>, signal: AbortSignal) => {
    const siblings = new AbortController();
    // Linked, not AbortSignal.any, which on Node 20 leaves it reachable from the run's signal.
    const linked = linkedSignal([signal, siblings.signal]);
    const childSignal = linked.signal;
    operationSignals.set(childSignal, batch.operationSignal);
    let failure: ForEachChildError | undefined;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < list.length && failure === undefined) {
        const i = next++;
        const child = list[i] as Operation<any, any, P>;
        try {
          if (childSignal.aborted) throw abortError(childSignal, { operationName: child.name, operationIndex: i });
          const result: unknown = await child.forge(inputs[i], childFoundry(foundry, i), childSignal);
          batch.outputs[i] = outputOf(result);
          batch.data[i] = restoreDataOf(result);
          batch.done[i] = true;
          // Completed after the run gave up on this forEach: nobody else will undo it.
          if (restores && timedOut(batch.operationSignal)) await batch.undo();
        } catch (error) {
          failure ??= new ForEachChildError(name, i, child.name, error);
          abortWith(siblings, failure);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, list.length) }, worker)).finally(() => linked.dispose());
    return failure;
  };

  const operation: Operation<any, unknown[], P> = {
    name,
    async forge(input, foundry, signal) {
      const inputs = childInputs(name, strategy, input, list.length);
      // The signal of the workflow's operation this forEach is (or is nested in): its children's
      // undo follows it, not a sibling's failure, which the run compensates.
      const operationSignal = operationSignals.get(signal) ?? signal;
      const data: unknown[] = new Array<unknown>(list.length);
      const done: boolean[] = new Array<boolean>(list.length).fill(false);
      const batch: Batch = { outputs: new Array<unknown>(list.length), data, done, operationSignal, undo: undoer(data, done, foundry, operationSignal) };
      const keepUndoing = restores ? undoOnTimeout(operationSignal, batch.undo) : () => undefined;
      const failure = await forgeChildren(batch, inputs, foundry, signal).finally(keepUndoing);
      if (failure !== undefined) {
        // Stopped by what the run does not compensate (its abort, a smith's timeout, a lost lease):
        // nothing is undone, as the run leaves its snapshot to resume, which would run the undone
        // children again. An abort that is a failure (an outer forEach's sibling, an operation's
        // timeout) is compensated, and the outer layer undoes only what reports done: undo here.
        const stopped = signal.aborted ? abortError(signal, { operationName: name }) : failure;
        if (preventsCompensation(stopped)) throw stopped;
        // The child's failure is what the caller must see; restore failures are logged.
        await batch.undo();
        throw failure;
      }
      // Completed after its operation's timeout: the run compensated without it, and its children
      // are undone (on the timeout, or as each completed), so its outputs must reach no one.
      if (timedOut(operationSignal)) {
        await batch.undo();
        throw abortError(signal, { operationName: name });
      }
      return restores ? (withRestoreData(batch.outputs, data) as unknown as unknown[]) : batch.outputs;
    },
  };
  if (!restores) return operation;
  return {
    ...operation,
    async restore(data: unknown[], foundry, signal) {
      // Not its list of results: a layer answered for it, recovering its failure (when it undid its
      // completed children itself) or without running it. Nothing of it is left to undo.
      if (!Array.isArray(data) || data.length !== list.length) return;
      // Once the run aborted, no further child's restore starts: the compensation stops there and
      // a later run restores this forEach again, so a child undone now would be undone twice. An
      // outer forEach's undo after its operation's own timeout goes on: nothing else undoes these.
      const stopAtAbort = (): AbortSignal => {
        if (!signal.aborted) return signal;
        if (timedOut(signal)) return neverAborted;
        throw abortError(signal, { operationName: name });
      };
      const errors = (await restoreAll(data, list.map(() => true), foundry, stopAtAbort)).map((failure) => failure.error);
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new AggregateError(errors, `forEach "${name}": ${errors.length} child restores failed`);
    },
  };
}

// Whether a restore handed `signal`, now aborted, rejected because of it: with its reason, or with an
// AbortError of its own (Node's timers and events, many SDKs), often caused by that reason.
function isCutShort(error: unknown, signal: AbortSignal): boolean {
  if (error === signal.reason) return true;
  return typeof error === "object" && error !== null && ((error as { name?: unknown }).name === "AbortError" || (error as { cause?: unknown }).cause === signal.reason);
}

// Whether the workflow's operation was stopped by its own timeout, which the run already gave up
// on: what its children did, before or after, is undone by the forEach alone.
function timedOut(operationSignal: AbortSignal): boolean {
  const reason: unknown = operationSignal.reason;
  return isWorkflowForgeError(reason) && reason.code === "OPERATION_TIMEOUT";
}

// Undoes the completed children as soon as the operation's own timeout fires rather than once
// every child settled: a child that ignores its signal may never settle. Returns what stops it.
function undoOnTimeout(operationSignal: AbortSignal, undo: () => Promise<void>): () => void {
  if (operationSignal === neverAborted || operationSignal.aborted) return () => undefined;
  const onAbort = (): void => {
    if (timedOut(operationSignal)) void undo();
  };
  operationSignal.addEventListener("abort", onAbort, { once: true });
  return () => operationSignal.removeEventListener("abort", onAbort);
}

// Child `index` sees the forEach's idempotency key then `/#index`.
function childFoundry<F extends Foundry<any>>(foundry: F, index: number): F {
  return scopedFoundry(foundry, { idempotencyKey: (suffix) => childIdempotencyKey(foundry.idempotencyKey(), index, suffix) });
}

function childInputs(name: string, strategy: ForEachInput, input: unknown, count: number): readonly unknown[] {
  if (strategy === "none") return new Array<unknown>(count).fill(undefined);
  if (strategy === "shared") return new Array<unknown>(count).fill(input);
  if (!Array.isArray(input) || input.length !== count) {
    throw new TypeError(`forEach "${name}": input "split" needs an array of ${count} items, got ${Array.isArray(input) ? `${input.length} items` : typeof input}`);
  }
  return input;
}
