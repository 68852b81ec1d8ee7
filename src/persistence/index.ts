export { usePersistence } from "./middleware.js";
export type { PersistenceOptions, SnapshotMigration } from "./options.js";
export {
  claimArrivedLate,
  claimedSnapshot,
  isClaimable,
  matchesFilter,
  unfinishedStatuses,
  type ClaimRequest,
  type WorkflowPersistenceProvider,
  type ProviderCapabilities,
  type SnapshotFilter,
} from "./provider.js";
export type { ListOptions } from "./list-options.js";
export { nextEvent, type DeliveredEvent } from "./mailbox.js";
export type { WorkflowExecutionSnapshot, SnapshotStatus } from "./snapshot.js";
export type { SnapshotEvent, SnapshotDeletedEvent } from "./events.js";
export { readTimeline, type OperationTimeline } from "./timeline.js";
export { MemoryPersistenceProvider, type MemoryPersistenceProviderOptions } from "./providers/memory.js";
export { createSnapshotCodec, defaultSnapshotCodec, encodeValue, decodeValue, type SnapshotCodec, type SnapshotCodecOptions } from "./codec/codec.js";
export {
  SnapshotSerializationError,
  SnapshotTooLargeError,
  type SnapshotSerializationErrorOptions,
  type SnapshotTooLargeErrorOptions,
  type PropertySize,
} from "./errors.js";
export {
  PersistenceError,
  SnapshotConflictError,
  SnapshotCorruptedError,
  WorkflowDefinitionMismatchError,
  WorkflowCompensatedError,
  type PersistenceErrorOptions,
  type ProviderCall,
  type SnapshotKeys,
  type StoredError,
  type StoredErrorCause,
} from "./errors.js";
export { snapshotKeysOf } from "./keys.js";
export { isClaimedByOther } from "./claim.js";
export {
  createRecoveryCoordinator,
  type RecoveryCoordinator,
  type RecoveryCoordinatorOptions,
  type RecoveryRunOptions,
  type StartOptions,
  type CloseOptions,
} from "./recovery/coordinator.js";
export { signalInstance, type SignalOptions, type SignalResult } from "./recovery/signal.js";
export { cancelInstance, type CancelOptions, type CancelOutcome } from "./recovery/cancel.js";
export { type RetryOptions } from "./recovery/retry.js";
export { type EnqueueOptions } from "./recovery/enqueue.js";
export type {
  RecoveryOutcome,
  RecoveryReport,
  ResumedInstance,
  SuspendedInstance,
  FailedInstance,
  CancelledInstance,
  SkippedInstance,
} from "./recovery/report.js";
export { UnknownWorkflowError, RetriesExhaustedError } from "./recovery/errors.js";
