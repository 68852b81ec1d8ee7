import { callProvider } from "../provider-call.js";
import { anyInstance, listKeys } from "../keys.js";
import type { ListOptions } from "../list-options.js";
import type { ClaimRequest, SnapshotFilter, WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { givenBack } from "../snapshot-state.js";
import type { ResolvedCoordinatorOptions } from "./coordinator-options.js";

/** A record the provider's `claim()` stored as this coordinator's: the run adopts it without writing a claim. */
export interface ClaimedSnapshot {
  readonly snapshot: WorkflowExecutionSnapshot;
  /** `performance.now()` when the claim was sent: the lease counts from there. */
  readonly claimedAt: number;
}

/** True when the provider declares `claim()` and has it. */
export function claimsPages(provider: WorkflowPersistenceProvider): provider is WorkflowPersistenceProvider & Required<Pick<WorkflowPersistenceProvider, "claim">> {
  return provider.capabilities?.claim === true && typeof provider.claim === "function";
}

/**
 * Claims the next page of records this coordinator may run now, in one provider call. An empty page
 * means nothing is claimable at the moment: the pass is over.
 */
export async function claimPage(
  options: ResolvedCoordinatorOptions,
  filter: SnapshotFilter,
  limit: number,
  signal: AbortSignal,
  listOptions: ListOptions,
): Promise<ClaimedSnapshot[]> {
  const { provider, leaseTtlMs, retry } = options;
  if (!claimsPages(provider)) return [];
  const claimedAt = performance.now();
  const now = options.clock.now();
  const request: ClaimRequest = {
    owner: options.persistence.owner,
    now: new Date(now).toISOString(),
    leaseExpiresAt: new Date(now + leaseTtlMs).toISOString(),
    limit,
    maxAttempts: retry.attempts,
    filter,
  };
  const keys = filter.workflowId === undefined ? anyInstance : listKeys(filter);
  const page = await callProvider({ call: "claim", keys }, () => provider.claim(request, signal, listOptions));
  return page.map((snapshot) => ({ snapshot, claimedAt }));
}

/**
 * Gives back a claimed record that never ran (the coordinator is closing): its next revision
 * without a lease, and without the attempt the claim counted, so another worker takes it at once.
 */
export async function releaseUnstarted(provider: WorkflowPersistenceProvider, { snapshot }: ClaimedSnapshot): Promise<void> {
  const released = givenBack({ ...snapshot, revision: snapshot.revision + 1, updatedAt: new Date().toISOString() });
  await callProvider({ call: "save", keys: keysOf(snapshot) }, () => provider.save(released));
}

function keysOf(snapshot: WorkflowExecutionSnapshot): { foundryExecutionId: string; workflowId: string } {
  return { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
}
