// Persistence's events, reported on the foundry a run uses. They join the engine's FoundryEvents
// by declaration merging, so `foundry.on("snapshotSaved", listener)` is fully typed wherever
// workflowforge/persistence is imported, while the engine itself names no snapshot.

/** Facts about a stored snapshot, reported by persistence. */
export interface SnapshotEvent {
  readonly foundryExecutionId: string;
  readonly workflowId: string;
  readonly nextOperationIndex: number;
  readonly status: string;
  readonly revision: number;
}

/** The keys of a deleted snapshot. */
export type SnapshotDeletedEvent = Pick<SnapshotEvent, "foundryExecutionId" | "workflowId">;

declare module "../events.js" {
  interface FoundryEvents {
    /** A run adopted a stored snapshot: it restored the properties and resumes from it. */
    snapshotRestored: SnapshotEvent;
    /** A checkpoint (or a lease renewal, a release, a failure record) was stored. */
    snapshotSaved: SnapshotEvent;
    /** The snapshot was deleted: the run completed, or its compensation did. */
    snapshotDeleted: SnapshotDeletedEvent;
  }
}
