import { isWorkflowForgeError } from "../errors.js";
import type { WorkflowExecutionSnapshot } from "../persistence/snapshot.js";
import type { InspectedProvider } from "./stores.js";

/** The owner the CLI and the inspector claim a record as, just before they delete it. */
export const cliOwner = "workflowforge-cli";

// Long enough for one delete to reach the store; short enough that a CLI that dies between the
// claim and the delete holds the record up briefly: a coordinator takes it over once it expires
// (and the next delete or prune does not wait for that: a claim of cliOwner's is not another's).
const claimMs = 30_000;

/**
 * Deletes the record `read` unless it was saved again since it was read, and resolves what it
 * did. The providers have no conditional delete, so it first saves the next revision of `read`,
 * claimed by {@link cliOwner} for 30 s with its status and `updatedAt` unchanged, through
 * compare-and-set: a save of that revision since `read`, or a delete, makes the store refuse the
 * claim (nothing deleted: "changed", or "gone" when the record is no longer there), and after it a
 * worker's checkpoint of `read` is refused and no coordinator claims the record under the live
 * lease. When the delete then fails, the claim is given back (once; a failure of that leaves the
 * lease to expire) and the delete's error thrown.
 *
 * Deleted unclaimed, so that a save landing just before the delete is lost with it: any record on
 * a provider without compare-and-set (it cannot refuse anything); a `waiting` one, because its
 * providers recompute whether it is due from the snapshot saved, and a claim would clear the mark
 * of an event delivered to it, a wake-up lost if the delete then failed (so one woken between
 * the caller's re-read and the delete is deleted all the same); and a record too close to the
 * size limit (or otherwise refused by the codec) to take the claim's owner and lease.
 */
export async function deleteAsRead(provider: InspectedProvider, read: WorkflowExecutionSnapshot): Promise<DeletedAsRead> {
  const claim = await claimForDelete(provider, read);
  if (claim === "refused") return (await isGone(provider, read)) ? "gone" : "changed";
  try {
    await provider.delete(read.foundryExecutionId, read.workflowId);
  } catch (error) {
    if (claim === "claimed") await giveBack(provider, read);
    throw error;
  }
  return "deleted";
}

/** What {@link deleteAsRead} did: deleted the record, or nothing, as it was saved again since it was read, or is gone. */
export type DeletedAsRead = "deleted" | "changed" | "gone";

// Compare-and-set refuses the claim of a record deleted since it was read as it does one saved
// since: only a read tells them apart. One stored but unreadable now was saved again all the same.
async function isGone(provider: InspectedProvider, read: WorkflowExecutionSnapshot): Promise<boolean> {
  try {
    return (await provider.tryLoad(read.foundryExecutionId, read.workflowId)) === undefined;
  } catch (error) {
    if (isWorkflowForgeError(error) && error.code === "SNAPSHOT_CORRUPTED") return false;
    throw error;
  }
}

async function claimForDelete(provider: InspectedProvider, read: WorkflowExecutionSnapshot): Promise<"claimed" | "unclaimed" | "refused"> {
  if (provider.capabilities?.compareAndSet !== true || read.status === "waiting") return "unclaimed";
  try {
    await provider.save(claimedForDelete(read, Date.now()));
    return "claimed";
  } catch (error) {
    if (!isWorkflowForgeError(error)) throw error;
    if (error.code === "SNAPSHOT_CONFLICT") return "refused";
    // The record was read at this revision just now: deleting it unclaimed deletes what was read.
    if (error.code === "SNAPSHOT_TOO_LARGE" || error.code === "SNAPSHOT_SERIALIZATION") return "unclaimed";
    throw error;
  }
}

// `updatedAt` as read: a claim left behind must not make the record look recently active to
// `prune --older-than`.
function claimedForDelete(read: WorkflowExecutionSnapshot, now: number): WorkflowExecutionSnapshot {
  return { ...read, revision: read.revision + 1, owner: cliOwner, leaseExpiresAt: new Date(now + claimMs).toISOString() };
}

// The record as read, one revision after the claim: its owner and lease too, so that a dead letter
// or a record under another's lease (delete --force) is left as it was. Compare-and-set refuses it
// if anything (the delete itself, had it landed after all) changed the record since the claim.
async function giveBack(provider: InspectedProvider, read: WorkflowExecutionSnapshot): Promise<void> {
  try {
    await provider.save({ ...read, revision: read.revision + 2 });
  } catch {
    // The claim's lease expires in 30 s; the delete's error is the one to report.
  }
}
