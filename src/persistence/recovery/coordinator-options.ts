import { requireClock, systemClock, type Clock } from "../../clock.js";
import { createFoundry, type Foundry } from "../../foundry.js";
import { describe, rejectUnknownKeys, requireFunction, requireName, requireOptionsObject, requireLeaseTtlMs } from "../../internal/validate.js";
import { createSmith, type Smith } from "../../smith.js";
import type { MaybePromise } from "../../types.js";
import type { Workflow } from "../../workflow.js";
import { processOwner, resolvePersistenceOptions, type PersistenceOptions, type ResolvedPersistenceOptions } from "../options.js";
import { requireDeclaredMethods, type WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import type { RecoveryOutcome } from "./report.js";
import { resolveRetry, type ResolvedRetry, type RetryOptions } from "./retry.js";

/** How `createRecoveryCoordinator` finds, claims, runs and gives up on stored instances. */
export interface RecoveryCoordinatorOptions {
  /** Must declare `compareAndSet` (claims) and `list` (`resumeAll`). */
  readonly provider: WorkflowPersistenceProvider;
  /** The definition to resume a snapshot with, chosen by its `workflowName` and `workflowVersion`; `undefined` when unknown. */
  readonly resolveWorkflow: (snapshot: WorkflowExecutionSnapshot) => MaybePromise<Workflow<any> | undefined>;
  /**
   * A new foundry for each attempt, with your logger, middleware and event listeners; the
   * coordinator adds persistence itself (do not call `usePersistence` on it). Its properties are
   * replaced by the stored ones. @default createFoundry(snapshot.workflowName, { executionId: snapshot.foundryExecutionId, clock }),
   * with the coordinator's `clock`
   */
  readonly createFoundry?: ((snapshot: WorkflowExecutionSnapshot) => MaybePromise<Foundry<any>>) | undefined;
  /** Runs every attempt, with its workflow middleware, events and compensation. @default createSmith() */
  readonly smith?: Smith | undefined;
  readonly retry?: RetryOptions | undefined;
  /** Instances `resumeAll` runs at once, up to 65_536. @default 4 */
  readonly concurrency?: number | undefined;
  /** The claim's owner written into every snapshot. @default an id unique to this process */
  readonly owner?: PersistenceOptions["owner"] | undefined;
  /**
   * How long a claim outlives its last renewal, in whole milliseconds (at least 10) of real time;
   * another worker takes over an instance only after that. @default 30_000
   */
  readonly leaseTtlMs?: number | undefined;
  /** What the resumed runs do with a completed snapshot. @default "delete" */
  readonly onComplete?: PersistenceOptions["onComplete"] | undefined;
  /** @default "error" (the instance is reported failed and left alone) */
  readonly onDefinitionMismatch?: PersistenceOptions["onDefinitionMismatch"] | undefined;
  /**
   * Told the outcome of each instance the coordinator tried to resume, as soon as it is known
   * (workflowforge/otel counts dead letters here). What it throws is ignored. @default undefined
   */
  readonly onOutcome?: ((outcome: RecoveryOutcome) => void) | undefined;
  /** Where wake times are compared and the resumed runs read the time; a test clock makes long waits pass at once. @default real time */
  readonly clock?: Clock | undefined;
}

export interface ResolvedCoordinatorOptions {
  readonly provider: WorkflowPersistenceProvider;
  readonly resolveWorkflow: RecoveryCoordinatorOptions["resolveWorkflow"];
  readonly createFoundry: NonNullable<RecoveryCoordinatorOptions["createFoundry"]>;
  readonly smith: Smith;
  readonly retry: ResolvedRetry;
  readonly concurrency: number;
  readonly leaseTtlMs: number;
  readonly persistence: Omit<ResolvedPersistenceOptions, "instanceId" | "workflowKey"> & { readonly clock: Clock };
  readonly clock: Clock;
  /** Passes an outcome to `onOutcome`, and returns it. */
  readonly report: (outcome: RecoveryOutcome) => RecoveryOutcome;
}

const where = "createRecoveryCoordinator(options)";
const known = ["provider", "resolveWorkflow", "createFoundry", "smith", "retry", "concurrency", "owner", "leaseTtlMs", "onComplete", "onDefinitionMismatch", "onOutcome", "clock"];

/** Validates every option, throwing `TypeError` naming the first bad one. */
export function resolveCoordinatorOptions(input: RecoveryCoordinatorOptions): ResolvedCoordinatorOptions {
  const options = requireOptionsObject(input, where) as unknown as RecoveryCoordinatorOptions;
  rejectUnknownKeys(options, known, where);
  const { provider, concurrency = 4, leaseTtlMs = 30_000 } = options;
  if (typeof provider !== "object" || provider === null || provider.capabilities?.compareAndSet !== true || provider.capabilities.list !== true) {
    throw new TypeError(`${where}: options.provider must declare capabilities.compareAndSet and capabilities.list, got ${describe(provider)}`);
  }
  requireDeclaredMethods(provider, `${where}: options.provider`);
  requireFunction(options.resolveWorkflow, `${where}: options.resolveWorkflow`);
  if (options.createFoundry !== undefined) requireFunction(options.createFoundry, `${where}: options.createFoundry`);
  if (options.smith !== undefined) requireSmith(options.smith);
  if (options.onOutcome !== undefined) requireFunction(options.onOutcome, `${where}: options.onOutcome`);
  requireConcurrency(concurrency);
  requireLeaseTtlMs(leaseTtlMs, `${where}: options.leaseTtlMs`);
  if (options.owner !== undefined) requireName(options.owner, `${where}: options.owner`);
  const clock = options.clock === undefined ? systemClock : requireClock(options.clock, `${where}: options.clock`);
  const persistence = resolvePersistenceOptions(
    { owner: options.owner ?? processOwner, lease: { ttlMs: leaseTtlMs }, onComplete: options.onComplete, onDefinitionMismatch: options.onDefinitionMismatch },
    where,
  );
  return {
    provider,
    resolveWorkflow: options.resolveWorkflow,
    // On the coordinator's clock: a test clock passes a run's delays and in-process waits as its durable ones.
    createFoundry: options.createFoundry ?? ((snapshot) => createFoundry(snapshot.workflowName, { executionId: snapshot.foundryExecutionId, clock })),
    smith: options.smith ?? createSmith(),
    retry: resolveRetry(options.retry),
    concurrency,
    leaseTtlMs,
    persistence: { ...persistence, countsAttempts: true, clock },
    clock,
    report: reportTo(options.onOutcome),
  };
}

function reportTo(onOutcome: RecoveryCoordinatorOptions["onOutcome"]): (outcome: RecoveryOutcome) => RecoveryOutcome {
  return (outcome) => {
    try {
      onOutcome?.(outcome);
    } catch {
      // An observer must not change what the coordinator reports.
    }
    return outcome;
  };
}

// Each unit of concurrency is a lane the pass runs; past this many, a store is the limit, not lanes.
const maxConcurrency = 65_536;

function requireConcurrency(concurrency: unknown): void {
  const what = `${where}: options.concurrency`;
  if (typeof concurrency !== "number" || !Number.isInteger(concurrency) || concurrency < 1 || concurrency > maxConcurrency) {
    throw new TypeError(`${what} must be an integer from 1 to ${maxConcurrency}, got ${describe(concurrency)}`);
  }
}

function requireSmith(smith: unknown): void {
  if (typeof smith !== "object" || smith === null || typeof (smith as Partial<Smith>).forge !== "function") {
    throw new TypeError(`${where}: options.smith must be a smith made by createSmith(), got ${describe(smith)}`);
  }
}
