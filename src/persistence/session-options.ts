import type { Clock } from "../clock.js";
import type { HoldAhead } from "./held-here.js";
import type { ResolvedPersistenceOptions } from "./options.js";
import type { WorkflowExecutionSnapshot } from "./snapshot.js";

/** What a run's persistence works with: the resolved options, plus what a recovery run is handed. */
export interface SessionOptions extends ResolvedPersistenceOptions {
  /**
   * The snapshot a recovery run continues, as the coordinator found it. The run does not load it
   * again, and its claim is a compare-and-set on this revision: a record completed, deleted or
   * claimed by another worker since is never run (the claim is refused), let alone from step 0.
   */
  readonly resumes?: WorkflowExecutionSnapshot | undefined;
  /**
   * Set when `resumes` is already this run's claim as stored (the provider's `claim()` wrote it,
   * attempt counted): the `performance.now()` instant the claim was sent. The run writes no claim.
   */
  readonly claimedAt?: number | undefined;
  /** This process's hold on the instance, taken with the coordinator's claim: the run adopts it. */
  readonly held?: HoldAhead | undefined;
  /**
   * Aborted when the coordinator shuts down: the run starts no further operation, and releases
   * its claim so another worker can take the instance over at once.
   */
  readonly shutdown?: AbortSignal | undefined;
  /**
   * Aborted when the coordinator's close deadline passed: the running operation's signal aborts
   * (store calls are not aborted), and the run gives its claim back. Lives no longer than the run
   * (the coordinator links one per attempt): the operations' signal listens to it for good.
   */
  readonly deadline?: AbortSignal | undefined;
  /** Where wake times are read, in place of the foundry's clock (the coordinator's). */
  readonly clock?: Clock | undefined;
}
