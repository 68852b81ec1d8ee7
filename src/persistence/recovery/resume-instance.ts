import { abortError, linkedSignal, neverAborted } from "../../abort.js";
import { isSuspended, isWorkflowForgeError } from "../../errors.js";
import { whenIdle, type Foundry } from "../../foundry.js";
import type { Workflow } from "../../workflow.js";
import { describeClaim, isClaimedByOther } from "../claim.js";
import { isHeldHere, type HoldAhead } from "../held-here.js";
import { WorkflowCompensatedError, WorkflowDefinitionMismatchError } from "../errors.js";
import { addPersistence } from "../middleware.js";
import { leaseRanOut } from "../run-claim.js";
import { loadSnapshot } from "../provider-call.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { handedBack } from "../snapshot-state.js";
import { answeredWithin, savedWithin, settlesWithin } from "./bounded-wait.js";
import { beforeClaim, claimedSince, holdTaken, movedSinceClaim, unreadClaimMs } from "./claim-hold.js";
import { giveBackUnstarted, recordLeft, releaseLeftLease, releaseUnstarted, type ClaimedSnapshot } from "./claim-pages.js";
import type { ResolvedCoordinatorOptions } from "./coordinator-options.js";
import { deadLetter, isDeadLetter } from "./dead-letter.js";
import { UnknownWorkflowError } from "./errors.js";
import { failed, keysOf, toError, type FailedInstance, type InstanceRef, type RecoveryOutcome, type SkippedInstance } from "./report.js";
import { pauseBetweenAttempts, retryDelay } from "./retry.js";
import { requireFoundry } from "../../foundry-check.js";

/** How a coordinator's runs learn that it is shutting down. */
export interface Shutdown {
  /** Aborted by `close()`: runs stop before their next operation and release their claims. */
  readonly closing: AbortSignal;
  /** Aborted when the close deadline passed: the operations still running are aborted too. */
  readonly deadline: AbortSignal;
}

type AttemptResult = RecoveryOutcome | { readonly status: "retry"; readonly error: Error; readonly attempts: number };

/**
 * Resumes one stored instance through the smith, retrying as configured. Whatever goes wrong,
 * including in the caller's callbacks, becomes this instance's outcome.
 *
 * The first attempt continues the snapshot it is handed (what `resumeAll` listed) without loading it
 * again: its claim is a compare-and-set on that revision, so an instance another worker completed,
 * deleted or claimed since is refused, never run from the start. Later attempts reload what is
 * stored, so the decision always rests on the latest revision: the attempts count lives in the
 * store, shared by every worker that ever claimed the instance.
 */
export async function resumeInstance(
  options: ResolvedCoordinatorOptions,
  shutdown: Shutdown,
  ref: InstanceRef,
  signal: AbortSignal,
  found?: WorkflowExecutionSnapshot | ClaimedSnapshot,
): Promise<RecoveryOutcome> {
  if (found === undefined || !("claimedAt" in found)) return attemptsOf(options, shutdown, ref, signal, undefined, found);
  try {
    // The page may have claimed an instance a run here still holds: a run suspending at a wait whose
    // event marked the record due. The claim moved the revision, so that run can write nothing more
    // and lets go, handing its hold to this claim; skipping would leave the claim's lease on a record
    // nobody runs. A run here that does not let go within the lease (one without a lease, hung) keeps it.
    // Stopped meanwhile, by close() or the caller's signal, it is given back at once.
    if (!(await holdTaken(found.hold, options.leaseTtlMs, [shutdown.closing, signal]))) {
      return shutdown.closing.aborted || signal.aborted ? await giveBackUnstarted(options.provider, found, signal, options.leaseTtlMs) : await heldHere(options, ref, found);
    }
    const outcome = await attemptsOf(options, shutdown, ref, signal, found, undefined);
    // Closing or the caller's signal can stop a claim made by page before its run started (while
    // the workflow was being resolved): it is given back here, its attempt not counted. A run that
    // closing stopped and that wrote has moved the revision, and this compare-and-set is then
    // refused, harmlessly; one the caller's signal stopped after it adopted the hold keeps its count.
    const unstarted = outcome.status === "skipped" ? outcome.reason === "closed" : outcome.status === "failed" && signal.aborted && found.hold.pending;
    if (!unstarted) return outcome;
    const givenBack = await releaseUnstarted(options.provider, found, options.leaseTtlMs).then(() => true, () => false);
    return givenBack && outcome.status === "failed" ? { ...outcome, attempts: beforeClaim(found.snapshot).attempts ?? 0 } : outcome;
  } finally {
    found.hold.drop();
  }
}

async function attemptsOf(
  options: ResolvedCoordinatorOptions,
  shutdown: Shutdown,
  ref: InstanceRef,
  signal: AbortSignal,
  // A claim made by page holds the instance in this process until a run adopts the hold: that run
  // may be a later attempt, when the first failed before it started.
  claim: ClaimedSnapshot | undefined,
  listed: WorkflowExecutionSnapshot | undefined,
): Promise<RecoveryOutcome> {
  const { retry } = options;
  const keys = keysOf(ref);
  let lastError: Error | undefined;
  let attempts = 0;
  // What the last failed attempt left, loaded as it failed: its lease is given back on close().
  let left: Promise<WorkflowExecutionSnapshot | undefined | null> | undefined;
  const stop = async (): Promise<RecoveryOutcome> => {
    if (left === undefined) return closed(ref);
    // The failed attempt ended the instance (compensated and deleted, or completed): its error is the outcome, as a retry would have found.
    const record = await left;
    if (lastError !== undefined && (record === undefined || record?.status === "completed")) return failed(ref, lastError, attempts, false);
    return closed(ref, releaseLeftLease.bind(undefined, options, keys, left, claim?.hold));
  };
  try {
    for (let tries = 0; ; tries++) {
      if (signal.aborted) return failed(ref, lastError ?? abortError(signal, {}), attempts, false);
      if (shutdown.closing.aborted) return await stop();
      const claimed = tries === 0 ? claim : undefined;
      const stored = claimed !== undefined && !claimed.hold.handedOver ? claimed.snapshot : tries === 0 && listed !== undefined ? listed : await answeredWithin(loadSnapshot(options.provider, keys, signal), options.leaseTtlMs, "tryLoad", keys);
      if (claimedSince(claim, stored, Date.now())) return { ...ref, status: "skipped", reason: "claimed", detail: "another claim or run of this process took it over since this claim" };
      // A claim still as stored is adopted: it counts the attempt it is about to run, and decisions
      // rest on the count before it. One a run here wrote over is claimed afresh.
      const adopting = claimed !== undefined && stored?.revision === claimed.snapshot.revision;
      const snapshot = adopting ? beforeClaim(claimed.snapshot) : stored;
      attempts = snapshot?.attempts ?? attempts;
      const settled = settledOutcome(options, ref, snapshot, lastError, attempts, claim?.hold.pending === true);
      if (settled !== undefined) return settled;
      const current = snapshot as WorkflowExecutionSnapshot;
      // A waiting record counts only its failed wake-ups (a suspension stores none): as many as
      // retry.attempts make it a dead letter too, not a record claimed again on every pass.
      if (attempts >= retry.attempts) return await deadLetter(options, ref, current, lastError, signal);
      // Claims that never reached the store count no attempt there; this bounds them too.
      if (lastError !== undefined && tries >= retry.attempts) return failed(ref, lastError, attempts, false);
      const attempt = await runAttempt(options, shutdown, ref, current, signal, adopting ? { stored: attempts, at: claimed.claimedAt, answeredAt: claimed.answeredAt, snapshot: claimed.snapshot } : undefined, claim?.hold);
      if (attempt.status !== "retry") return attempt.status === "skipped" && attempt.reason === "closed" ? await stop() : attempt;
      lastError = attempt.error;
      attempts = attempt.attempts;
      if (signal.aborted || !retry.retryIf(attempt.error, attempts)) return failed(ref, attempt.error, attempts, false);
      left = recordLeft(options, keys);
      if (attempts < retry.attempts) await pauseBetweenAttempts(retryDelay(retry, attempts), signal, shutdown.closing);
    }
  } catch (error) {
    if (shutdown.closing.aborted && !signal.aborted) return await stop();
    // An abort while waiting reports the attempt's own error; anything else is reported as is.
    return failed(ref, lastError !== undefined && signal.aborted ? lastError : toError(error), attempts, false);
  }
}

// What to report without running anything, or undefined when the instance should run.
function settledOutcome(
  options: ResolvedCoordinatorOptions,
  ref: InstanceRef,
  snapshot: WorkflowExecutionSnapshot | undefined,
  lastError: Error | undefined,
  attempts: number,
  // The hold this process has on the instance is this instance's own, not yet adopted by a run.
  holdsIt: boolean,
): RecoveryOutcome | undefined {
  // After a failed attempt, a vanished or completed record means the run ended there (for example
  // compensated): that attempt's error is the outcome.
  if (lastError !== undefined && (snapshot === undefined || snapshot.status === "completed")) return failed(ref, lastError, attempts, false);
  if (snapshot === undefined) return { ...ref, status: "skipped", reason: "absent" };
  if (snapshot.status === "completed") return { ...ref, status: "skipped", reason: "completed" };
  if (snapshot.status === "cancelled") return { ...ref, status: "cancelled" };
  if (isClaimedByOther(snapshot, options.persistence.owner)) return { ...ref, status: "skipped", reason: "claimed", detail: describeClaim(snapshot) };
  // Runs of this process share its owner: another coordinator here may be running the instance.
  if (!holdsIt && isHeldHere(keysOf(ref))) return { ...ref, status: "skipped", reason: "claimed", detail: "another run in this process is running it" };
  // Written as a dead letter already (no lease). One still leased is one whose last claimant died
  // before writing it: it is written and reported below, as one that fails its last attempt here is.
  if (lastError === undefined && isDeadLetter(snapshot, options.retry.attempts) && snapshot.leaseExpiresAt === undefined) {
    return { ...ref, status: "skipped", reason: "dead-letter", detail: `gave up after ${attempts} attempts` };
  }
  return undefined;
}

async function runAttempt(
  options: ResolvedCoordinatorOptions,
  shutdown: Shutdown,
  ref: InstanceRef,
  snapshot: WorkflowExecutionSnapshot,
  signal: AbortSignal,
  // The hooks see `snapshot` as stored before this attempt (a claim's attempt not yet counted), on
  // either path; the run resumes from what the claim wrote.
  claim: { readonly stored: number; readonly at: number; readonly answeredAt: number; readonly snapshot: WorkflowExecutionSnapshot } | undefined,
  held: HoldAhead | undefined,
): Promise<AttemptResult> {
  const stored = claim?.stored ?? snapshot.attempts ?? 0;
  let workflow: Workflow<any> | undefined;
  let foundry: Foundry<any>;
  // The coordinator's deadline lives as long as it does: each attempt links to it through one
  // listener, removed when the attempt ends.
  const deadline = linkedSignal([shutdown.deadline]);
  try {
    workflow = await options.resolveWorkflow(snapshot);
    if (workflow === undefined) throw new UnknownWorkflowError(keysOf(ref), snapshot.workflowName, snapshot.workflowVersion);
    const created: unknown = await options.createFoundry(snapshot);
    requireFoundry(created, "createRecoveryCoordinator(options): what options.createFoundry(snapshot) returned");
    foundry = created;
    const persistence = { ...options.persistence, instanceId: ref.instanceId, workflowKey: ref.workflowKey, resumes: claim?.snapshot ?? snapshot, claimedAt: claim?.at, held, shutdown: shutdown.closing, deadline: deadline.signal };
    addPersistence(foundry, options.provider, persistence);
    const moved = claim !== undefined && performance.now() - claim.answeredAt > unreadClaimMs ? await movedSinceClaim(options.provider, ref, claim.snapshot, options.leaseTtlMs, [signal, shutdown.closing]) : undefined;
    if (moved !== undefined) {
      deadline.dispose();
      return moved;
    }
  } catch (error) {
    deadline.dispose();
    return await notStarted(options, ref, snapshot, claim, error);
  }
  try {
    const output = await options.smith.forge(workflow, foundry, signal === neverAborted ? {} : { signal });
    return { ...ref, status: "resumed", output, attempts: stored + 1 };
  } catch (error) {
    if (isSuspended(error)) return { ...ref, status: "suspended", wakeAt: error.wakeAt, waitingFor: error.waitingFor };
    // A smith timeout rejects before the run let go of the instance. Another attempt must not
    // start while this one may still be running (its lease keeps others out meanwhile).
    if (!(await settlesWithin(foundry[whenIdle](), options.leaseTtlMs))) return failed(ref, toError(error), stored + 1, false);
    if (shutdown.closing.aborted && isWorkflowForgeError(error) && error.code === "ABORTED" && !signal.aborted) return closed(ref);
    if (leaseRanOut(error) && !shutdown.closing.aborted) return await leaseLost(options, ref, error, stored + 1);
    if (isWorkflowForgeError(error) && error.code === "SNAPSHOT_CONFLICT") return { ...ref, status: "skipped", reason: "claimed", detail: error.message };
    // Found as the run opened, before any operation ran: no attempt was spent, and another would fail the same way.
    if (isOwnMismatch(error, ref)) return await notStarted(options, ref, snapshot, claim, error);
    // The compensation a cancellation asked for ran to its end, and the record is stored `cancelled`.
    if (error instanceof WorkflowCompensatedError && error.storedError?.name === "WorkflowCancelledError") return { ...ref, status: "cancelled" };
    return { status: "retry", error: toError(error), attempts: stored + 1 };
  } finally {
    deadline.dispose();
  }
}

// This instance's own record did not fit: not a nested run's (a workflow forged inside one of its
// operations), whose mismatch fails that operation once it started.
function isOwnMismatch(error: unknown, ref: InstanceRef): boolean {
  if (!(error instanceof WorkflowDefinitionMismatchError)) return false;
  return error.keys.foundryExecutionId === ref.instanceId && error.keys.workflowId === ref.workflowKey;
}

/**
 * An attempt that failed before its run started (no definition, no foundry, a definition the
 * stored progress does not fit): no attempt was spent, and another try would fail the same way. A
 * claim made by page gives its count back, keeping the lease so that this pass does not claim the
 * instance again; best effort: when the save fails, the instance counts one attempt more than it ran.
 */
async function notStarted(options: ResolvedCoordinatorOptions, ref: InstanceRef, snapshot: WorkflowExecutionSnapshot, claim: { readonly stored: number } | undefined, error: unknown): Promise<FailedInstance> {
  const stored = claim?.stored ?? snapshot.attempts ?? 0;
  if (claim !== undefined) {
    const record = handedBack({ ...snapshot, revision: snapshot.revision + 1, attempts: stored }) as unknown as WorkflowExecutionSnapshot;
    await savedWithin(options.provider, record, options.leaseTtlMs).catch(() => undefined);
  }
  return failed(ref, toError(error), stored, false);
}

// The run's own lease ran out, no save of it acknowledged (not renewed since close(), which is no
// failure): skipped when another worker took the instance since (this process was paused, say),
// else failed: the store failed, or hung for a lease (a row lock held, a server stopped).
async function leaseLost(options: ResolvedCoordinatorOptions, ref: InstanceRef, error: unknown, attempts: number): Promise<RecoveryOutcome> {
  const keys = keysOf(ref);
  const stored = await answeredWithin(loadSnapshot(options.provider, keys, undefined), options.leaseTtlMs, "tryLoad", keys).catch(() => null);
  // Null: the store does not answer. Still this owner's and unfinished: nobody took it over (a
  // renewal of this run that landed late may have moved its lease on).
  const ownStill = stored !== null && stored?.owner === options.persistence.owner && (stored.status === "running" || stored.status === "compensating" || stored.status === "failed");
  return stored === null || ownStill ? failed(ref, toError(error), attempts, false) : { ...ref, status: "skipped", reason: "claimed", detail: toError(error).message };
}

// A claim made by page on an instance a run of this process did not let go of: given back, the
// attempt it counted restored, and left to that run.
async function heldHere(options: ResolvedCoordinatorOptions, ref: InstanceRef, claimed: ClaimedSnapshot): Promise<SkippedInstance> {
  await releaseUnstarted(options.provider, claimed, options.leaseTtlMs).catch(() => undefined);
  return { ...ref, status: "skipped", reason: "claimed", detail: "another run in this process is running it" };
}

// Closing: `release` gives back the lease a failed attempt left, before the outcome says it was.
async function closed(ref: InstanceRef, release?: () => Promise<void>): Promise<SkippedInstance> {
  await release?.();
  return { ...ref, status: "skipped", reason: "closed", detail: "the coordinator is closing; the claim is given back for another worker, or ends with its lease where the store did not take that" };
}
