import { linkedSignal, sleep } from "../../abort.js";
import { isWorkflowForgeError, type WorkflowForgeErrorCode } from "../../errors.js";
import { describe, rejectUnknownKeys, requireDelayMs, requireFunction, requireOptionsObject, requirePositiveInteger } from "../../internal/validate.js";

/** How the recovery coordinator retries an instance whose resumed run failed and left it resumable. */
export interface RetryOptions {
  /** Claims of one instance, over every process, before it becomes a dead letter. @default 3 */
  readonly attempts?: number | undefined;
  /** Delay before the second attempt; each further attempt doubles it. @default 100 */
  readonly baseDelayMs?: number | undefined;
  /** No delay is longer. @default 30_000 */
  readonly maxDelayMs?: number | undefined;
  /** The share of each delay drawn at random, from 0 (none) to 1 (anywhere in [0, delay]). @default 0.5 */
  readonly jitter?: number | undefined;
  /**
   * Whether a failed attempt deserves another. @default every error but {@link permanentCodes}, looked
   * for through `PersistenceError` wrappers too
   */
  readonly retryIf?: ((error: unknown, attempt: number) => boolean) | undefined;
}

export interface ResolvedRetry {
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly jitter: number;
  readonly retryIf: (error: unknown, attempt: number) => boolean;
}

/** Failures that another attempt cannot fix: the definition, the stored record or the outcome itself. */
export const permanentCodes: ReadonlySet<WorkflowForgeErrorCode> = new Set<WorkflowForgeErrorCode>([
  "DEFINITION_MISMATCH",
  "SNAPSHOT_CORRUPTED",
  "SNAPSHOT_SERIALIZATION",
  "SNAPSHOT_TOO_LARGE",
  "WORKFLOW_COMPENSATED",
  "COMPENSATION_FAILED",
]);

// A run reports a failed provider call as a PersistenceError whose cause is the provider's error,
// and a storage provider's codec refusing the snapshot arrives that way: the wrappers are looked
// through. Bounded, in case a cause chain loops.
function isTransient(error: unknown): boolean {
  let current = error;
  for (let depth = 0; depth < 8 && isWorkflowForgeError(current); depth++) {
    if (permanentCodes.has(current.code)) return false;
    if (current.code !== "PERSISTENCE") return true;
    current = current.cause;
  }
  return true;
}

const where = "createRecoveryCoordinator(options): options.retry";

export function resolveRetry(input: RetryOptions | undefined): ResolvedRetry {
  const options = requireOptionsObject(input, where) as RetryOptions;
  rejectUnknownKeys(options, ["attempts", "baseDelayMs", "maxDelayMs", "jitter", "retryIf"], where);
  const { attempts = 3, baseDelayMs = 100, maxDelayMs = 30_000, jitter = 0.5, retryIf = isTransient } = options;
  requirePositiveInteger(attempts, `${where}.attempts`);
  requireDelayMs(baseDelayMs, `${where}.baseDelayMs`);
  requireDelayMs(maxDelayMs, `${where}.maxDelayMs`);
  if (maxDelayMs < baseDelayMs) throw new TypeError(`${where}.maxDelayMs (${maxDelayMs}) must not be below baseDelayMs (${baseDelayMs})`);
  if (typeof jitter !== "number" || !(jitter >= 0 && jitter <= 1)) throw new TypeError(`${where}.jitter must be a number from 0 to 1, got ${describe(jitter)}`);
  requireFunction(retryIf, `${where}.retryIf`);
  return { attempts, baseDelayMs, maxDelayMs, jitter, retryIf };
}

/**
 * The wait before attempt `attempt + 1` after attempt `attempt` (1-based) failed: exponential from
 * `baseDelayMs`, capped at `maxDelayMs`, with the `jitter` share of it drawn at random so workers
 * that failed together do not retry together.
 */
export function retryDelay(retry: Pick<ResolvedRetry, "baseDelayMs" | "maxDelayMs" | "jitter">, attempt: number, random: () => number = Math.random): number {
  const exponential = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return exponential * (1 - retry.jitter * random());
}

/** Waits out the retry delay; a close() or the caller's signal ends the wait at once. */
export async function pauseBetweenAttempts(ms: number, signal: AbortSignal, closing: AbortSignal): Promise<void> {
  const linked = linkedSignal([signal, closing]);
  try {
    await sleep(ms, linked.signal, {});
  } finally {
    linked.dispose();
  }
}
