import { abortError, neverAborted } from "../abort.js";
import { MiddlewareError, type ErrorLocation } from "../errors.js";
import { suspendsRun } from "../run-errors.js";
import { hasGeneratedExecutionId, type Foundry } from "../foundry.js";
import { requireFunction } from "../internal/validate.js";
import type { OperationContext, OperationMiddleware, RunContext } from "../types.js";
import { resolvePersistenceOptions, type PersistenceOptions } from "./options.js";
import { requireDeclaredMethods, type WorkflowPersistenceProvider } from "./provider.js";
import { PersistenceSession } from "./session.js";
import { markBagUsed } from "./restore-properties.js";
import { explainConflict } from "./cancellation.js";
import type { SessionOptions } from "./session-options.js";
import { requireFoundry } from "../foundry-check.js";

/**
 * Makes the foundry's runs resumable through `provider`: each completed operation is checkpointed
 * before the next one starts, a later run with the same keys restores the properties once and skips
 * the completed operations, and the snapshot is deleted when the last operation completes.
 *
 * Adds exactly one operation middleware (none when `enabled` is false); where it is added decides
 * what it wraps. Operations run at least once: one whose checkpoint was not saved before a crash
 * runs again. Throws `TypeError` at once for a bad provider or option.
 */
export function usePersistence<F extends Foundry<any>>(foundry: F, provider: WorkflowPersistenceProvider, options: PersistenceOptions = {}): F {
  requireFoundry(foundry, "usePersistence(foundry, provider, options): foundry");
  assertProvider(provider);
  const resolved = resolvePersistenceOptions(options);
  if (!resolved.enabled) return foundry;
  if (resolved.leaseTtlMs !== undefined && provider.capabilities?.compareAndSet !== true) {
    // Without compare-and-set a lease cannot fence anyone out; better to say so than to pretend.
    throw new TypeError("usePersistence(foundry, provider, options): options.lease needs a provider that declares capabilities.compareAndSet");
  }
  if (resolved.instanceId === undefined && hasGeneratedExecutionId(foundry)) {
    foundry.logger.warn(
      `usePersistence: foundry "${foundry.name}" has a generated executionId and no instanceId was given, so another process can never resume its runs and ` +
        "each unfinished run leaves its snapshot behind; pass options.instanceId (or createFoundry(name, { executionId }))",
    );
  }
  return addPersistence(foundry, provider, resolved);
}

// Two persistence middleware on one foundry would checkpoint every step twice and refuse each
// other's saves; it is always a mistake (for the recovery coordinator: a reused foundry).
const persisted = new WeakSet<object>();

// A coordinator's run (it hands over the record it `resumes`) got its foundry from createFoundry,
// which must neither add persistence itself nor hand out one foundry twice.
function alreadyPersisted(foundry: Foundry<any>, options: SessionOptions): string {
  if (options.resumes === undefined) return `foundry "${foundry.name}" already uses persistence: add it once, to a new foundry for each run`;
  return `createRecoveryCoordinator(options): options.createFoundry returned foundry "${foundry.name}", which already uses persistence: the coordinator adds it to each run itself, so return a new foundry, without usePersistence, from every call`;
}

/** @internal Adds the middleware with options already resolved (the recovery coordinator's runs). */
export function addPersistence<F extends Foundry<any>>(foundry: F, provider: WorkflowPersistenceProvider, options: SessionOptions): F {
  if (persisted.has(foundry)) throw new TypeError(alreadyPersisted(foundry, options));
  foundry.use(persistenceMiddleware(provider, options));
  persisted.add(foundry);
  return foundry;
}

function assertProvider(provider: unknown): asserts provider is WorkflowPersistenceProvider {
  if (typeof provider !== "object" || provider === null) {
    throw new TypeError("usePersistence(foundry, provider, options): provider must be an object with save, tryLoad and delete");
  }
  const candidate = provider as Partial<WorkflowPersistenceProvider>;
  for (const method of ["save", "tryLoad", "delete"] as const) {
    requireFunction(candidate[method], `usePersistence(foundry, provider, options): provider.${method}`);
  }
  // The capability its runs use: the mailbox, for their waits.
  requireDeclaredMethods(candidate as WorkflowPersistenceProvider, "usePersistence(foundry, provider, options): provider", ["mailbox"]);
}

function persistenceMiddleware(provider: WorkflowPersistenceProvider, options: SessionOptions): OperationMiddleware {
  // One session per run, opened by the start hook: the snapshot is loaded once, and the run knows
  // its identity and where it resumes before any middleware sees operation 0.
  const sessions = new WeakMap<RunContext, PersistenceSession>();
  const persistence: OperationMiddleware = async function persistence(context, next) {
    const session = sessions.get(context.run);
    if (session === undefined) throw new MiddlewareError(locationOf(context), "the persistence middleware was called for a run it did not start");
    if (session.checksBeforeOperation) await session.beforeOperation(context.index);
    session.started(context.index);
    let result: unknown;
    try {
      result = await next(session.contextFor(context));
    } catch (error) {
      // A run that stopped to wait stored that already: nothing failed. (A run nested in the
      // operation that suspended is that operation's failure: recorded as one.)
      if (suspendsRun(error, context.run.identity)) throw error;
      // A run that lost its claim writes nothing more: another process owns the instance now.
      if (session.lost !== undefined) throw await explainConflict(provider, session.keys, session.lost, locationOf(context), options.leaseTtlMs);
      // Stopped by a shutdown past its deadline: the last checkpoint stays, and the claim goes back.
      const deadline = session.deadlinePassed;
      if (deadline !== undefined) await session.stopForShutdown(deadline, context.index, true);
      await session.failed(context, error);
      throw error;
    }
    // An operation that outlived its signal (a timeout around this middleware gave up on it, or the
    // run was aborted) is no longer the run's to record: the run went on without it, failing or
    // compensating, and a checkpoint now would store progress it never made.
    if (context.signal !== neverAborted && context.signal.aborted) throw abortError(context.signal, locationOf(context));
    try {
      // Awaited only when the checkpoint is not stored yet: each await is a turn of the microtask queue.
      const saving = session.completed(context, result);
      if (saving !== undefined) await saving;
    } catch (error) {
      throw await explainConflict(provider, session.keys, error, locationOf(context), options.leaseTtlMs);
    }
    return result;
  };
  persistence.start = async (context) => {
    sessions.set(context.run, await PersistenceSession.open(context, provider, options));
    // Its operations may change the bag now (a run that could not open changed nothing, unless it restored).
    markBagUsed(context.foundry);
  };
  return persistence;
}

function locationOf(context: OperationContext<any>): ErrorLocation {
  return { workflowName: context.run.workflow.name, operationName: context.operation.name, operationIndex: context.index };
}
