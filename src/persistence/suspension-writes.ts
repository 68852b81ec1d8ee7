import { WorkflowSuspendedError, type ErrorLocation } from "../errors.js";
import type { WaitWrites } from "./durable-waits.js";
import type { RunClaim } from "./run-claim.js";
import { snapshotOf, unleased, type SnapshotState } from "./snapshot-state.js";
import type { SnapshotStore } from "./snapshot-store.js";
import type { WorkflowExecutionSnapshot } from "./snapshot.js";

export interface SuspensionHost {
  readonly state: SnapshotState;
  readonly store: SnapshotStore;
  readonly claim: RunClaim | undefined;
  /** Whether the run counts attempts (a coordinator's retry policy): a suspension gives its attempt back. */
  readonly countsAttempts: boolean;
  readonly properties: () => Record<string, unknown>;
  readonly location: () => ErrorLocation;
  /** The checkpoint that takes the instance back, `running`, asked for by the wait's operation. */
  readonly saveRunning: (asker: AbortSignal) => Promise<unknown> | undefined;
}

/**
 * How a run's durable wait reaches the store. A suspension stores `waiting` with no lease and no
 * attempt counted (only failed wake-ups count then); taken back here, the claim and the attempt
 * count again. A suspension given up on while its save waited for the writes before it is not
 * sent (WritesInFlight): the run went on past the wait, and keeps its claim and its attempt. One
 * that landed, or was landing, gave the instance back: the run starts no operation after it
 * ({@link stopsRun}).
 */
export class SuspensionWrites implements WaitWrites {
  readonly #host: SuspensionHost;
  #gaveBack = 0;
  // The waiting save being written, and the state changed after it: settled, never rejected.
  #landing: Promise<void> | undefined;

  constructor(host: SuspensionHost) {
    this.#host = host;
  }

  async suspend(asker: AbortSignal): Promise<void> {
    const { state, store, claim, countsAttempts } = this.#host;
    const gaveBack = countsAttempts && state.attempts !== undefined ? state.attempts : 0;
    // Built once the write's turn came, so that a checkpoint of the run sent before it neither gives
    // the claim back nor stores the attempt uncounted; the state changes only once it landed.
    const waiting = async (): Promise<WorkflowExecutionSnapshot> => {
      await claim?.suspend();
      const snapshot = unleased(snapshotOf(state, "waiting", this.#host.properties()));
      return gaveBack === 0 ? snapshot : { ...snapshot, attempts: (snapshot.attempts ?? 0) - gaveBack };
    };
    const landing = store.write(waiting, this.#host.location(), "checkpoint", asker).then(() => {
      this.#gaveBack = gaveBack;
      if (state.attempts !== undefined) state.attempts -= gaveBack;
      state.status = "waiting";
    });
    this.#landing = landing.catch(() => undefined);
    try {
      await landing;
    } catch (error) {
      // Refused, the wait given up on: the run goes on, and the claim is its own still.
      if (asker.aborted) claim?.resumeRenewing();
      throw error;
    }
  }

  /** Whether {@link stopsRun} has anything to say: a waiting save is being written, or landed. */
  get stopsOperations(): boolean {
    return this.#landing !== undefined || this.#host.state.status === "waiting";
  }

  /**
   * Before an operation starts, once the waiting save being written settled: the suspension that
   * gave the instance back to the coordinators, which the run stops with however a layer went on
   * past its wait; undefined when the instance is the run's.
   */
  async stopsRun(): Promise<WorkflowSuspendedError | undefined> {
    await this.#landing;
    this.#landing = undefined;
    const { state } = this.#host;
    if (state.status !== "waiting") return undefined;
    const { keys, wakeAt, waitingFor } = state;
    return new WorkflowSuspendedError({ ...this.#host.location(), instanceId: keys.foundryExecutionId, workflowKey: keys.workflowId, wakeAt: wakeAt === undefined ? undefined : new Date(wakeAt), waitingFor });
  }

  async reclaim(asker: AbortSignal): Promise<void> {
    // The claim and the attempt are the run's again.
    const { state, claim } = this.#host;
    claim?.resumeRenewing();
    if (state.attempts !== undefined) state.attempts += this.#gaveBack;
    this.#gaveBack = 0;
    await this.#host.saveRunning(asker);
  }
}
