import type { WorkflowPersistenceProvider } from "../provider.js";
import { conformanceCases, type ConformanceCase, type ConformanceGroup } from "./cases.js";

/** How the suite gets a provider to test, modelled on LangGraph's checkpoint validator. */
export interface ProviderTestInitializer<P extends WorkflowPersistenceProvider = WorkflowPersistenceProvider> {
  /** Shown in the suite's title. */
  readonly name: string;
  /** A fresh provider for one test. Tests use random keys, so providers may share one store. */
  create(): P | Promise<P>;
  /** Releases what `create` made. Runs after every test, also a failed one. */
  destroy?(provider: P): void | Promise<void>;
  /** Once before the suite, for example to start a server or open a pool. */
  beforeAll?(): void | Promise<void>;
  /** Once after the suite. */
  afterAll?(): void | Promise<void>;
  /** Time allowed to `beforeAll` and `afterAll`. @default 60_000 */
  readonly hookTimeoutMs?: number;
  /** Groups to skip, reported as skipped tests. */
  readonly skip?: readonly ConformanceGroup[];
}

/**
 * The few functions of a test framework the suite needs. Pass vitest's or Jest's module directly;
 * for node:test pass `{ describe, it, beforeAll: (fn, ms) => before(fn, { timeout: ms }), afterAll: ... }`.
 */
export interface TestFramework {
  describe(name: string, body: () => void): unknown;
  it: ((name: string, body: () => Promise<void>) => unknown) & { skip?: (name: string, body: () => Promise<void>) => unknown };
  beforeAll(hook: () => unknown, timeoutMs?: number): unknown;
  afterAll(hook: () => unknown, timeoutMs?: number): unknown;
}

/** Whether `provider` claims the capability a group depends on. Declared, never probed. */
function supports(provider: WorkflowPersistenceProvider, group: ConformanceGroup): boolean {
  if (group === "compareAndSet") return provider.capabilities?.compareAndSet === true;
  if (group === "list") return provider.capabilities?.list === true;
  if (group === "recovery") return provider.capabilities?.compareAndSet === true && provider.capabilities.list === true;
  return true;
}

/** Runs one case on a fresh provider; resolves `"skipped"` when the provider lacks the capability. */
export async function runConformanceCase<P extends WorkflowPersistenceProvider>(
  initializer: ProviderTestInitializer<P>,
  testCase: ConformanceCase,
): Promise<"passed" | "skipped"> {
  const provider = await initializer.create();
  try {
    if (!supports(provider, testCase.group)) return "skipped";
    await testCase.run(provider);
    return "passed";
  } finally {
    await initializer.destroy?.(provider);
  }
}

/**
 * Registers the provider conformance suite with your test framework: the contract every provider
 * must meet (absent keys, round trips, awkward keys, large snapshots, compare-and-set, list, abort,
 * and a crash-and-resume workflow through the real middleware).
 *
 * ```ts
 * import * as vitest from "vitest";
 * describeProviderConformance({ name: "mine", create: () => new MyProvider() }, vitest);
 * ```
 */
export function describeProviderConformance<P extends WorkflowPersistenceProvider>(initializer: ProviderTestInitializer<P>, framework: TestFramework): void {
  const timeout = initializer.hookTimeoutMs ?? 60_000;
  framework.describe(`${initializer.name} conforms to the workflowforge provider contract`, () => {
    if (initializer.beforeAll) framework.beforeAll(() => initializer.beforeAll?.(), timeout);
    if (initializer.afterAll) framework.afterAll(() => initializer.afterAll?.(), timeout);
    for (const testCase of conformanceCases) {
      const title = `${testCase.group}: ${testCase.name}`;
      if (initializer.skip?.includes(testCase.group)) {
        (framework.it.skip ?? framework.it)(title, () => Promise.resolve());
        continue;
      }
      framework.it(title, async () => {
        await runConformanceCase(initializer, testCase);
      });
    }
  });
}
