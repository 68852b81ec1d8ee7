/**
 * What vitest (`TestContext`) and node:test (`t`) pass a test function, reduced to the one method
 * the suite uses. vitest's `skip` throws to end the test; node:test's marks it, and the test returns.
 */
export interface SkipContext {
  skip(note?: string): unknown;
}

/** A test body: receives the framework's test context, if the framework passes one. */
export type TestBody = (context?: SkipContext) => Promise<void>;

/**
 * The few functions of a test framework the suite needs. Pass vitest's or Jest's module directly;
 * for node:test pass `{ describe, it, beforeAll: (fn, ms) => before(fn, { timeout: ms }), afterAll: ... }`.
 *
 * A case the provider lacks a capability for is marked skipped through the context that `it`
 * passes its test function (vitest and node:test pass one with `skip(note)`). Where there is no
 * such context (Jest, Mocha, a hand-written adapter), the case cannot mark itself and passes
 * without running.
 */
export interface TestFramework {
  describe(name: string, body: () => void): unknown;
  /** `timeoutMs` is vitest's and Jest's per-test limit, set above the kit's own deadline; node:test and Mocha ignore it. */
  it: ((name: string, body: TestBody, timeoutMs?: number) => unknown) & { skip?: (name: string, body: TestBody) => unknown };
  beforeAll(hook: () => unknown, timeoutMs?: number): unknown;
  afterAll(hook: () => unknown, timeoutMs?: number): unknown;
}

/** Marks the running test skipped with `reason` when `context` can; otherwise does nothing. */
export function skipTest(context: unknown, reason: string): void {
  // Not checked to be an object: vitest's context is a function (calling it reports that `done` is gone).
  if (typeof (context as Partial<SkipContext> | null | undefined)?.skip === "function") (context as SkipContext).skip(reason);
}

/**
 * Wraps `run` as a test function that hands it the framework's context. The function declares no
 * parameter and reads `arguments`: Jest and Mocha treat a test function with a parameter as one
 * that takes a `done` callback, and vitest parses the first parameter of a test that uses fixtures.
 */
export function withContext(run: (context: unknown) => void | Promise<void>): TestBody {
  return async function () {
    // eslint-disable-next-line prefer-rest-params -- vitest rejects a rest parameter in a test that uses fixtures
    const context: unknown = arguments[0];
    await run(context);
  };
}
