export { describeProviderConformance, runConformanceCase, type ProviderTestInitializer } from "./conformance.js";
export type { SkipContext, TestBody, TestFramework } from "./framework.js";
export { conformanceCases, type ConformanceCase, type ConformanceGroup } from "./cases.js";
export { runCrashHarness, type CrashHarnessOptions, type CrashReport, type CrashInstanceReport } from "./crash-harness.js";
export { runCrashWorkload, type CrashWorkloadOptions } from "./crash-workload.js";
export type { CrashOutcome, CrashResult } from "./crash-log.js";
export { createTestClock, type TestClock } from "./test-clock.js";
