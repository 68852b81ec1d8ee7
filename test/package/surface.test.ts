import { describe, expect, it } from "vitest";
import * as root from "../../src/index.js";
import * as persistence from "../../src/persistence/index.js";
import * as testing from "../../src/persistence/testing/index.js";
import * as file from "../../src/persistence/providers/file/index.js";
import * as sqlite from "../../src/persistence/providers/sqlite.js";
import * as postgres from "../../src/persistence/providers/postgres.js";
import * as redis from "../../src/persistence/providers/redis.js";
import * as otel from "../../src/otel/index.js";

// The exact runtime names of every entry point (the modules tsup builds them from). Adding or
// removing a public name must change this list: a change to the surface is a visible decision.
const surface: Record<string, { readonly module: object; readonly names: readonly string[] }> = {
  workflowforge: {
    module: root,
    names: [
      "AnnotationLimitError", "CompensationError", "ForEachChildError", "FoundryBusyError", "MiddlewareError", "OperationFailedError", "OperationTimeoutError",
      "WorkflowAbortedError", "WorkflowForgeError", "WorkflowTimeoutError", "action", "conditional", "createFoundry", "createSmith",
      "createWorkflow", "delay", "delegate", "errorHandlingMiddleware", "forEach", "idempotencyKeyOf", "isWorkflowForgeError",
      "loggingMiddleware", "silentLogger", "timeoutMiddleware", "timingMiddleware", "withRestoreData",
      "sleep", "sleepUntil", "waitForEvent", "systemClock", "isSuspended", "WorkflowSuspendedError", "WaitTimeoutError", "WorkflowCancelledError",
    ],
  },
  "workflowforge/persistence": {
    module: persistence,
    names: [
      "MemoryPersistenceProvider", "PersistenceError", "RetriesExhaustedError", "SnapshotConflictError", "SnapshotCorruptedError",
      "SnapshotSerializationError", "SnapshotTooLargeError", "UnknownWorkflowError", "WorkflowCompensatedError", "WorkflowDefinitionMismatchError",
      "claimArrivedLate", "claimedSnapshot", "createRecoveryCoordinator", "createSnapshotCodec", "decodeValue", "defaultSnapshotCodec", "encodeValue",
      "isClaimable", "isClaimedByOther", "matchesFilter", "readTimeline", "snapshotKeysOf", "usePersistence",
      "nextEvent", "unfinishedStatuses", "signalInstance", "cancelInstance",
    ],
  },
  "workflowforge/persistence/testing": {
    module: testing,
    names: ["conformanceCases", "createTestClock", "describeProviderConformance", "runConformanceCase", "runCrashHarness", "runCrashWorkload"],
  },
  "workflowforge/persistence/file": { module: file, names: ["FilePersistenceProvider"] },
  "workflowforge/persistence/sqlite": { module: sqlite, names: ["SqlitePersistenceProvider"] },
  "workflowforge/persistence/postgres": { module: postgres, names: ["PostgresPersistenceProvider"] },
  "workflowforge/persistence/redis": { module: redis, names: ["RedisPersistenceProvider"] },
  "workflowforge/otel": { module: otel, names: ["instrument"] },
};

describe("the public surface", () => {
  it.for(Object.entries(surface))("%s exports exactly its listed names", ([, { module, names }]) => {
    expect(Object.keys(module).sort()).toEqual([...names].sort());
  });
});
