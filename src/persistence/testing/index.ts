export { describeProviderConformance, runConformanceCase, type ProviderTestInitializer, type TestFramework } from "./conformance.js";
export { conformanceCases, type ConformanceCase, type ConformanceGroup } from "./cases.js";
export { fullSnapshot, nextRevision, randomKeys } from "./fixtures.js";
