import type { MeterProvider, TracerProvider } from "@opentelemetry/api";
import { describe, it } from "vitest";
import { createFoundry, createSmith, createWorkflow, forEach, waitForEvent, type Clock, type ForEachInput, type Foundry, type Logger, type Smith } from "../../src/index.js";
import { instrument } from "../../src/otel/index.js";
import {
  MemoryPersistenceProvider,
  cancelInstance,
  createRecoveryCoordinator,
  createSnapshotCodec,
  signalInstance,
  usePersistence,
  type RecoveryOutcome,
  type SnapshotCodec,
  type SnapshotCorruptedError,
  type SnapshotFilter,
  type SnapshotMigration,
  type WorkflowExecutionSnapshot,
} from "../../src/persistence/index.js";
import { FilePersistenceProvider, type FileDurability } from "../../src/persistence/providers/file/index.js";
import { PostgresPersistenceProvider, type PostgresClient } from "../../src/persistence/providers/postgres.js";
import { RedisPersistenceProvider, type IoRedisLikeClient } from "../../src/persistence/providers/redis.js";
import { SqlitePersistenceProvider, type SqliteDatabase } from "../../src/persistence/providers/sqlite.js";
import { describeProviderConformance, runCrashHarness, runCrashWorkload, type ConformanceGroup, type TestFramework } from "../../src/persistence/testing/index.js";

// Under exactOptionalPropertyTypes (this project's tsconfig, and many users'), a value that may be
// undefined is forwarded into an optional option as it is: the options say `| undefined`, since the
// library takes an undefined option as its default.
declare const maybe: string | undefined;
declare const maybeNumber: number | undefined;
declare const maybeBoolean: boolean | undefined;
declare const maybeFalse: false | undefined;
declare const maybeSignal: AbortSignal | undefined;
declare const maybeLogger: Logger | undefined;
declare const maybeClock: Clock | undefined;
declare const maybeCodec: SnapshotCodec | undefined;
declare const maybeSmith: Smith | undefined;
declare const maybeDurability: FileDurability | undefined;
declare const maybeInput: ForEachInput | undefined;
declare const maybeFilter: SnapshotFilter | undefined;
declare const maybeLease: { readonly ttlMs: number } | undefined;
declare const maybeOnComplete: "delete" | "keep" | undefined;
declare const maybeMismatch: "error" | "restart" | SnapshotMigration | undefined;
declare const maybeOnError: ((error: unknown) => void) | undefined;
declare const maybeOnOutcome: ((outcome: RecoveryOutcome) => void) | undefined;
declare const maybeOnUnreadable: ((error: SnapshotCorruptedError) => void) | undefined;
declare const maybeCreateFoundry: ((snapshot: WorkflowExecutionSnapshot) => Foundry) | undefined;
declare const maybeRetryIf: ((error: unknown, attempt: number) => boolean) | undefined;
declare const maybeEnv: Readonly<Record<string, string>> | undefined;
declare const maybeKillDelay: ((first: boolean) => number) | undefined;
declare const maybeSkip: readonly ConformanceGroup[] | undefined;
declare const maybeBag: { note?: string } | undefined;
declare const maybeTracer: TracerProvider | undefined;
declare const maybeMeter: MeterProvider | undefined;
declare const database: SqliteDatabase;
declare const pgClient: PostgresClient;
declare const redisClient: IoRedisLikeClient;
declare const framework: TestFramework;

const workflow = createWorkflow("Exact").withOperation("one", () => 1).build();

describe("optional options take a value that may be undefined", () => {
  it("createFoundry, createSmith and a run", () => {
    const foundry = createFoundry("exact", { executionId: maybe, logger: maybeLogger, clock: maybeClock });
    createFoundry<{ note?: string }>("exact", { properties: maybeBag });
    const smith = createSmith({ failFastCompensation: maybeBoolean, throwOnCompensationError: maybeBoolean, timeoutMs: maybeNumber, logger: maybeLogger });
    void smith.forge(workflow, foundry, { signal: maybeSignal });
    void foundry.forge({ signal: maybeSignal });
  });

  it("forEach and waitForEvent", () => {
    forEach("each", [], { concurrency: maybeNumber, input: maybeInput });
    waitForEvent("approved", "approval", { timeoutMs: maybeNumber });
  });

  it("usePersistence", () => {
    usePersistence(createFoundry("exact"), new MemoryPersistenceProvider(), {
      enabled: maybeBoolean,
      instanceId: maybe,
      workflowKey: maybe,
      persistOnFailure: maybeBoolean,
      onComplete: maybeOnComplete,
      rerunCompleted: maybeBoolean,
      onDefinitionMismatch: maybeMismatch,
      owner: maybe,
      lease: maybeLease,
      waitInProcessMs: maybeNumber,
    });
  });

  it("createRecoveryCoordinator and its calls", () => {
    const provider = new MemoryPersistenceProvider();
    const coordinator = createRecoveryCoordinator({
      provider,
      resolveWorkflow: () => workflow,
      createFoundry: maybeCreateFoundry,
      smith: maybeSmith,
      retry: { attempts: maybeNumber, baseDelayMs: maybeNumber, maxDelayMs: maybeNumber, jitter: maybeNumber, retryIf: maybeRetryIf },
      concurrency: maybeNumber,
      owner: maybe,
      leaseTtlMs: maybeNumber,
      onComplete: maybeOnComplete,
      onDefinitionMismatch: maybeMismatch,
      onOutcome: maybeOnOutcome,
      clock: maybeClock,
    });
    coordinator.start({ pollIntervalMs: maybeNumber, filter: maybeFilter, onError: maybeOnError });
    void coordinator.close({ timeoutMs: maybeNumber });
    void coordinator.enqueue(workflow, { instanceId: "exact-1", workflowKey: maybe }, { signal: maybeSignal });
    void coordinator.resume("exact-1", "Exact", { signal: maybeSignal });
    void coordinator.resumeAll({}, { signal: maybeSignal });
    void coordinator.signal("exact-1", "Exact", "approval", undefined, { eventId: maybe, signal: maybeSignal });
    void coordinator.cancel("exact-1", "Exact", { compensate: maybeBoolean, signal: maybeSignal });
    void signalInstance(provider, { instanceId: "exact-1", workflowKey: "Exact" }, "approval", undefined, { eventId: maybe, signal: maybeSignal });
    void cancelInstance(provider, { instanceId: "exact-1", workflowKey: "Exact" }, { compensate: maybeBoolean, signal: maybeSignal });
    void provider.list({}, maybeSignal, { onUnreadable: maybeOnUnreadable });
  });

  it("each provider's constructor, and the codec", () => {
    new MemoryPersistenceProvider({ live: maybeBoolean, codec: maybeCodec });
    new FilePersistenceProvider({ directory: "snapshots", durability: maybeDurability, lockTimeoutMs: maybeNumber, staleLockMs: maybeNumber, codec: maybeCodec });
    new SqlitePersistenceProvider({ database, tableName: maybe, codec: maybeCodec });
    new PostgresPersistenceProvider({ client: pgClient, tableName: maybe, schema: maybe, codec: maybeCodec, preparedStatements: maybeFalse });
    new RedisPersistenceProvider({ client: redisClient, keyPrefix: maybe, completedTtlSeconds: maybeNumber, codec: maybeCodec, commandTimeoutMs: maybeNumber });
    createSnapshotCodec({ maxSnapshotBytes: maybeNumber });
  });

  it("instrument's telemetry options", () => {
    instrument(createSmith(), { tracerProvider: maybeTracer, meterProvider: maybeMeter });
  });

  it("the conformance kit and the crash harness", () => {
    describeProviderConformance({ name: "memory", create: () => new MemoryPersistenceProvider(), hookTimeoutMs: maybeNumber, caseTimeoutMs: maybeNumber, skip: maybeSkip }, framework);
    void runCrashHarness({
      command: ["child.js"],
      env: maybeEnv,
      logFile: "crash.log",
      instances: 1,
      steps: maybeNumber,
      killDelayMs: maybeKillDelay,
      maxKillsPerInstance: maybeNumber,
      concurrency: maybeNumber,
      attemptTimeoutMs: maybeNumber,
    });
    void runCrashWorkload({ provider: new MemoryPersistenceProvider(), instanceId: "exact-1", logFile: "crash.log", steps: maybeNumber, stepDelayMs: maybeNumber });
  });
});
