import { isWorkflowForgeError } from "../errors.js";
import type { WorkflowExecutionSnapshot } from "../persistence/snapshot.js";
import type { InspectedProvider } from "./stores.js";

/** The owner the CLI and the inspector claim a record as, just before they delete it. */
export const cliOwner = "workflowforge-cli";

// Long enough for one delete to reach the store; short enough that a CLI that dies between the
// claim and the delete holds the record up briefly: a coordinator takes it over once it expires.
const claimMs = 30_000;

/**
 * Deletes the record `read` unless it was saved again since it was read, and resolves whether it
 * did. The providers have no conditional delete, so it first saves the next revision of `read`,
 * claimed by {@link cliOwner} for 30 s with its status unchanged, through compare-and-set: a save
 * of that revision since `read` makes the store refuse the claim (false, nothing deleted), and
 * after it a worker's checkpoint of `read` is refused and no coordinator claims the record under
 * the live lease. A provider without compare-and-set cannot refuse anything: `read` is deleted
 * unclaimed, and a save landing just before the delete is lost with it.
 */
export async function deleteAsRead(provider: InspectedProvider, read: WorkflowExecutionSnapshot): Promise<boolean> {
  if (provider.capabilities?.compareAndSet === true) {
    try {
      await provider.save(claimedForDelete(read, Date.now()));
    } catch (error) {
      if (isWorkflowForgeError(error) && error.code === "SNAPSHOT_CONFLICT") return false;
      throw error;
    }
  }
  await provider.delete(read.foundryExecutionId, read.workflowId);
  return true;
}

function claimedForDelete(read: WorkflowExecutionSnapshot, now: number): WorkflowExecutionSnapshot {
  const updatedAt = new Date(now).toISOString();
  return { ...read, revision: read.revision + 1, owner: cliOwner, leaseExpiresAt: new Date(now + claimMs).toISOString(), updatedAt };
}
