export { describeProviderConformance, runConformanceCase, type ProviderTestInitializer } from "./conformance.js";
export type { SkipContext, TestBody, TestFramework } from "./framework.js";
export { conformanceCases, type ConformanceCase, type ConformanceGroup } from "./cases.js";
export { fullSnapshot, nextRevision, randomKeys } from "./fixtures.js";
export {
  runCrashHarness,
  runCrashWorkload,
  expectedCrashResult,
  type CrashHarnessOptions,
  type CrashReport,
  type CrashInstanceReport,
  type CrashResult,
  type CrashWorkloadOptions,
} from "./crash-harness.js";
