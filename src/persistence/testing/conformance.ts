import { maxTimerMs, requireTimerMs } from "../../internal/validate.js";
import type { SnapshotKeys } from "../errors.js";
import type { WorkflowPersistenceProvider } from "../provider.js";
import { missingCapabilities, missingCapabilityReason } from "./capabilities.js";
import { conformanceCases, conformanceGroups, type ConformanceCase, type ConformanceGroup, type ConformanceHooks } from "./cases.js";
import { asError, createCaseSession, type CaseSession } from "./case-session.js";
import { eachAtMost } from "./fixtures.js";
import { skipTest, withContext, type TestFramework } from "./framework.js";

/** How the suite gets a provider to test, modelled on LangGraph's checkpoint validator. */
export interface ProviderTestInitializer<P extends WorkflowPersistenceProvider = WorkflowPersistenceProvider> {
  /** Shown in the suite's title. */
  readonly name: string;
  /**
   * A fresh provider for one test. Tests use random keys, so providers may share one store, and
   * delete what they stored afterwards; point the kit at a store no recovery coordinator serves.
   */
  create(): P | Promise<P>;
  /**
   * Releases what `create` made. Runs after every test, also a failed one, within `caseTimeoutMs`
   * (the case's own failure is reported when both fail).
   */
  destroy?(provider: P): void | Promise<void>;
  /** Once before the suite, for example to start a server or open a pool. */
  beforeAll?(): void | Promise<void>;
  /** Once after the suite. */
  afterAll?(): void | Promise<void>;
  /**
   * Makes the stored record of `keys`, which the suite has just saved through `provider`, unreadable
   * as damage or another program would leave it: for example by overwriting its stored data with
   * text the codec cannot decode. The `unreadable` cases call it to check that `list()` reports such
   * a record through `onUnreadable` and goes on, and that `delete` removes it; without it they are
   * skipped, saying so. Leave it out if your `list()` does not honour `onUnreadable`.
   */
  corrupt?(keys: SnapshotKeys, provider: P): void | Promise<void>;
  /**
   * A second provider object on the store `provider` uses, as another process would open it (the
   * same database file, server or directory, with its own client where that is how processes
   * differ). The cases of races between two processes (compare-and-set, claims, deliveries) use it,
   * and `destroy` it after the case; without it they are skipped, saying so. Leave it out when no
   * second object can see the first one's records (as for the memory provider).
   */
  reopen?(provider: P): P | Promise<P>;
  /** Time allowed to `beforeAll` and `afterAll`. @default 60_000 */
  readonly hookTimeoutMs?: number | undefined;
  /**
   * Time allowed to one case, and again to deleting what it stored, and to each of `create()` and
   * `destroy()` (a hook that outlives it fails naming it). A case that outlives it fails
   * with a message naming the provider call that did not settle ("provider.tryLoad did not settle
   * within 60000 ms"): a provider whose calls never answer fails instead of hanging the run, under
   * node:test too, which has no time limit of its own. @default 60_000
   */
  readonly caseTimeoutMs?: number | undefined;
  /**
   * Groups to skip, registered with `it.skip` (or, for a framework without it, as tests that mark
   * themselves skipped). A name that is not a group throws a `TypeError`. @default []
   */
  readonly skip?: readonly ConformanceGroup[] | undefined;
}

/**
 * Throws a `TypeError` for a `caseTimeoutMs` that is not a positive number of milliseconds a timer
 * can hold: past 2^31 - 1, Node fires a timer at once, and every case would fail on its deadline.
 */
function validateCaseTimeout(caseTimeoutMs: unknown, where: string): number {
  return caseTimeoutMs === undefined ? 60_000 : requireTimerMs(caseTimeoutMs, `${where}: initializer.caseTimeoutMs`);
}

/** Throws a `TypeError` for a `skip` option that is not an array of group names: a typo would silently run the group. */
function validateSkip(skip: unknown): void {
  if (skip === undefined) return;
  const where = "describeProviderConformance(initializer, framework): initializer.skip";
  if (!Array.isArray(skip)) throw new TypeError(`${where} must be an array of group names, got ${typeof skip}`);
  const known: readonly unknown[] = conformanceGroups;
  const unknown = skip.filter((group) => !known.includes(group));
  if (unknown.length > 0) {
    throw new TypeError(`${where} names unknown group ${unknown.map((group) => JSON.stringify(group)).join(", ")}; the groups are ${conformanceGroups.join(", ")}`);
  }
}

// Why a case needing each hook is skipped when the initializer lacks it.
const missingHookReasons: Readonly<Record<keyof ConformanceHooks, string>> = {
  corrupt: "the initializer has no corrupt(keys, provider) hook to make a stored record unreadable",
  reopen: "the initializer has no reopen(provider) hook to open a second provider object on the same store",
};

/** Deletes what the case saved or delivered (a record's events go with it), 20 at a time. */
async function removeWritten(provider: WorkflowPersistenceProvider, session: CaseSession): Promise<void> {
  await eachAtMost(session.written(), 20, ({ foundryExecutionId, workflowId }) => provider.delete(foundryExecutionId, workflowId));
}

/** Calls an initializer hook; what it throws that is not an Error becomes one naming it. */
const hookCall = <T>(what: string, hook: () => T | Promise<T>): Promise<T> =>
  Promise.resolve()
    .then(hook)
    .catch((thrown: unknown) => {
      throw asError(what, thrown);
    });

/**
 * Runs the case on `provider` within the deadline, then deletes what it wrote, also after it failed,
 * so that the kit leaves no record for a coordinator on the same store to resume. Not after it
 * timed out: a store that stopped answering would only time out again.
 */
async function runWatched<P extends WorkflowPersistenceProvider>(initializer: ProviderTestInitializer<P>, testCase: ConformanceCase, provider: P, reopened: P[], timeoutMs: number): Promise<void> {
  const session = createCaseSession(timeoutMs);
  const watched = session.watch(provider);
  const hook = <T>(what: string, call: () => T | Promise<T>): Promise<T> => session.pending(what, hookCall(what, call));
  const hooks: ConformanceHooks = {
    corrupt: async (keys) => void (await hook("initializer.corrupt(keys, provider)", () => initializer.corrupt?.(keys, provider))),
    reopen: async () => {
      const other = await hook("initializer.reopen(provider)", () => (initializer.reopen as (provider: P) => P | Promise<P>)(provider));
      reopened.push(other);
      return session.watch(other);
    },
  };
  const failure = await session.within(() => testCase.run(watched, hooks)).then(
    () => undefined,
    (error: unknown) => ({ error }),
  );
  if (!session.expired()) {
    await session.within(() => removeWritten(watched, session)).catch((error: unknown) => {
      if (failure === undefined) throw new Error(`the case passed, but deleting the records it stored failed: ${String(error)}`, { cause: error });
    });
  }
  if (failure !== undefined) throw failure.error;
}

/** Runs an initializer hook under a deadline of its own, failing with a message naming it. */
function hookWithin<T>(timeoutMs: number, what: string, hook: () => T | Promise<T>): Promise<T> {
  const session = createCaseSession(timeoutMs);
  return session.within(() => session.pending(what, hookCall(what, hook)));
}

/**
 * Destroys each provider in turn, all within one deadline: a destroy() that waits for calls in
 * flight (as pg's Pool.end() waits for checked-out clients) never settles after a call that did not.
 */
async function destroyAll<P extends WorkflowPersistenceProvider>(initializer: ProviderTestInitializer<P>, providers: readonly P[], timeoutMs: number): Promise<void> {
  if (initializer.destroy === undefined) return;
  await hookWithin(timeoutMs, "initializer.destroy(provider)", async () => {
    for (const provider of providers) await initializer.destroy?.(provider);
  });
}

/** Runs one case on a fresh provider; resolves why it was skipped, or undefined when it passed. */
async function runCase<P extends WorkflowPersistenceProvider>(initializer: ProviderTestInitializer<P>, testCase: ConformanceCase, timeoutMs: number): Promise<string | undefined> {
  // Checked before a provider is made: no provider could supply a missing hook.
  const missingHook = testCase.requires?.find((hook) => typeof initializer[hook] !== "function");
  if (missingHook !== undefined) return missingHookReasons[missingHook];
  const provider = await hookWithin(timeoutMs, "initializer.create()", () => initializer.create());
  const reopened: P[] = [];
  const outcome = await (async () => {
    const missing = missingCapabilities(provider, testCase.group);
    if (missing.length > 0) return missingCapabilityReason(missing);
    await runWatched(initializer, testCase, provider, reopened, timeoutMs);
    return undefined;
  })().then(
    (skipped) => ({ skipped }),
    (error: unknown) => ({ error }),
  );
  const destroyed = destroyAll(initializer, [...reopened, provider], timeoutMs);
  // The case's own failure says more than a destroy() it left unable to finish.
  if ("error" in outcome) {
    await destroyed.catch(() => undefined);
    throw outcome.error;
  }
  await destroyed;
  return outcome.skipped;
}

/** Runs one case on a fresh provider; resolves `"skipped"` when the provider lacks a capability or the initializer a hook the case needs. */
export async function runConformanceCase<P extends WorkflowPersistenceProvider>(
  initializer: ProviderTestInitializer<P>,
  testCase: ConformanceCase,
): Promise<"passed" | "skipped"> {
  const timeoutMs = validateCaseTimeout(initializer.caseTimeoutMs, "runConformanceCase(initializer, testCase)");
  return (await runCase(initializer, testCase, timeoutMs)) === undefined ? "passed" : "skipped";
}

/** Registers a case of a group named in `skip`; it never creates a provider. */
function registerSkippedGroup(framework: TestFramework, title: string, group: ConformanceGroup): void {
  if (framework.it.skip) {
    framework.it.skip(title, () => Promise.resolve());
    return;
  }
  // Without it.skip the case still says it was skipped, where the context allows, rather than pass.
  const reason = `the initializer's skip option names group "${group}"`;
  framework.it(title, withContext((context) => skipTest(context, reason)));
}

/**
 * Registers the provider conformance suite with your test framework: the contract every provider
 * must meet (absent keys, round trips, awkward keys, large snapshots, compare-and-set, list, claim,
 * waiting records and timers, the event mailbox and its races, push, a record list cannot read,
 * abort, and a crash-and-resume workflow through the real middleware).
 *
 * A case needing a capability the provider does not declare (`compareAndSet`, `list`, `claim`,
 * `mailbox`, `push`), or an initializer hook it was not given (`corrupt`, `reopen`), is reported skipped, with a note naming it, where `it` passes its test function a context with
 * `skip(note)` (vitest, node:test); elsewhere (Jest, Mocha) it passes without running.
 * Throws a `TypeError` when `initializer.skip` names a group that does not exist.
 *
 * ```ts
 * import * as vitest from "vitest";
 * describeProviderConformance({ name: "mine", create: () => new MyProvider() }, vitest);
 * ```
 */
export function describeProviderConformance<P extends WorkflowPersistenceProvider>(initializer: ProviderTestInitializer<P>, framework: TestFramework): void {
  validateSkip(initializer.skip);
  const where = "describeProviderConformance(initializer, framework)";
  const caseTimeoutMs = validateCaseTimeout(initializer.caseTimeoutMs, where);
  const timeout = initializer.hookTimeoutMs === undefined ? 60_000 : requireTimerMs(initializer.hookTimeoutMs, `${where}: initializer.hookTimeoutMs`);
  framework.describe(`${initializer.name} conforms to the workflowforge provider contract`, () => {
    if (initializer.beforeAll) framework.beforeAll(() => initializer.beforeAll?.(), timeout);
    if (initializer.afterAll) framework.afterAll(() => initializer.afterAll?.(), timeout);
    for (const testCase of conformanceCases) {
      const title = `${testCase.group}: ${testCase.name}`;
      if (initializer.skip?.includes(testCase.group)) {
        registerSkippedGroup(framework, title, testCase.group);
        continue;
      }
      framework.it(
        title,
        withContext(async (context) => {
          const skipped = await runCase(initializer, testCase, caseTimeoutMs);
          if (skipped !== undefined) skipTest(context, skipped);
        }),
        // Room for create(), the case, its clean-up and destroy(), each within caseTimeoutMs, so that
        // vitest's or Jest's own limit does not cut in first; never past what their timers can hold.
        Math.min(4 * caseTimeoutMs + 10_000, maxTimerMs),
      );
    }
  });
}
