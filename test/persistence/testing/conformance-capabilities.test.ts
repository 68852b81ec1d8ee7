import { describe, expect, it, vi } from "vitest";
import { conformanceCases, describeProviderConformance, runConformanceCase, type ConformanceGroup } from "../../../src/persistence/testing/index.js";
import type { ProviderCapabilities } from "../../../src/persistence/index.js";
import { providerDeclaring } from "./provider-without.js";
import { markingContext, recordingFramework } from "./recording-framework.js";

const casesOf = (group: ConformanceGroup) => conformanceCases.filter((testCase) => testCase.group === group);

/** Registers the suite for a provider declaring `declared` and returns the registered tests of `group`. */
function registeredTests(declared: ProviderCapabilities, group: ConformanceGroup) {
  const { framework, registered } = recordingFramework();
  describeProviderConformance({ name: "P", create: () => providerDeclaring(declared) }, framework);
  return registered.filter((test) => test.title.startsWith(`${group}: `));
}

describe("a conformance case needing a capability the provider does not declare", () => {
  it('runConformanceCase resolves "skipped" for it, without saving, and still destroys the provider', async () => {
    const providers: ReturnType<typeof providerDeclaring>[] = [];
    const destroy = vi.fn();
    const initializer = { name: "P", create: () => providers[providers.push(providerDeclaring({ list: true })) - 1]!, destroy };

    for (const testCase of casesOf("compareAndSet")) expect(await runConformanceCase(initializer, testCase)).toBe("skipped");
    expect(providers.map((provider) => provider.saves)).toEqual(casesOf("compareAndSet").map(() => 0));
    expect(destroy).toHaveBeenCalledTimes(casesOf("compareAndSet").length);
  });

  it("marks each compareAndSet test skipped through the test context, with a note naming capabilities.compareAndSet", async () => {
    const tests = registeredTests({ list: true }, "compareAndSet");
    const context = markingContext();
    for (const test of tests) await test.body(context);

    expect(tests).toHaveLength(casesOf("compareAndSet").length);
    expect(context.notes).toEqual(tests.map(() => "the provider does not declare capabilities.compareAndSet"));
  });

  it("names every capability it lacks: recovery needs both compareAndSet and list", async () => {
    const context = markingContext();
    for (const test of registeredTests({}, "recovery")) await test.body(context);
    for (const test of registeredTests({ list: true }, "recovery")) await test.body(context);

    const recovery = casesOf("recovery");
    expect(recovery.length).toBeGreaterThan(0);
    expect(context.notes).toEqual([
      ...recovery.map(() => "the provider does not declare capabilities.compareAndSet and capabilities.list"),
      ...recovery.map(() => "the provider does not declare capabilities.compareAndSet"),
    ]);
  });

  it("a case the provider can run runs and does not mark the test skipped", async () => {
    const context = markingContext();
    for (const test of registeredTests({}, "basics")) await test.body(context);

    expect(context.notes).toEqual([]);
  });

  it("passes silently, without reaching the provider, when the test function receives no context with skip", async () => {
    const provider = providerDeclaring({});
    const { framework, registered } = recordingFramework();
    describeProviderConformance({ name: "P", create: () => provider }, framework);
    const compareAndSet = registered.filter((test) => test.title.startsWith("compareAndSet: "));

    for (const test of compareAndSet) await expect(test.body()).resolves.toBeUndefined();
    for (const test of compareAndSet) await expect(test.body({} as never)).resolves.toBeUndefined();
    expect(provider.saves).toBe(0);
  });

  it("is registered as a function without parameters, which Jest and Mocha do not take for a done-callback test", () => {
    const { framework, registered } = recordingFramework({ withItSkip: false });
    describeProviderConformance({ name: "P", create: () => providerDeclaring(), skip: ["list"] }, framework);

    expect(registered.map((test) => test.body.length)).toEqual(conformanceCases.map(() => 0));
  });
});
