import type { CompensationObserver, WorkflowInfo } from "../types.js";
import type { SnapshotState } from "./snapshot-state.js";
import { storedError } from "./stored-error.js";

/** How a compensation's checkpoints reach the store: through the session's fenced writes. */
export interface CompensationWrites {
  /** Saves the state as `compensating`, with operations `[0, pending)` still to restore. */
  readonly saveCompensating: (pending: number) => Promise<void>;
  /** Deletes the record once every restore ran. */
  readonly remove: () => Promise<void>;
}

/**
 * Makes a compensation durable: the record moves to `compensating` before the first restore and is
 * saved after each one, so that a run that dies half-way is finished by the next run, which
 * restores only what is left. Once everything is restored the record is deleted.
 */
export function compensationCheckpoints(state: SnapshotState, workflow: WorkflowInfo, writes: CompensationWrites): CompensationObserver {
  return {
    started: async ({ pending, error, restoreData }) => {
      if (state.status === "compensating" && state.next === pending) return; // resumed: already stored
      // An operation a layer failed after it completed was never checkpointed: its restore's data is stored here.
      const last = pending - 1;
      if (workflow.operations[last]?.restore !== undefined && !(last in state.outputs)) state.outputs[last] = restoreData[last];
      state.next = pending;
      // This run's failure, not one an earlier run stored.
      state.error = storedError(error, pending, workflow.operations[pending]?.name ?? "");
      await writes.saveCompensating(pending);
    },
    restored: async ({ pending }) => {
      state.next = pending;
      // A restored operation's data goes with it: a record holds outputs of completed operations only.
      state.outputs = Object.fromEntries(Object.entries(state.outputs).filter(([index]) => Number(index) < pending));
      await writes.saveCompensating(pending);
    },
    completed: () => writes.remove(),
  };
}
