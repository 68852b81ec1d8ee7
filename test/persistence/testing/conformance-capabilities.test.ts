import { describe, expect, it, vi } from "vitest";
import { conformanceCases, describeProviderConformance, runConformanceCase, type ConformanceGroup } from "../../../src/persistence/testing/index.js";
import type { ProviderCapabilities } from "../../../src/persistence/index.js";
import { providerDeclaring } from "./provider-without.js";
import { markingContext, recordingFramework } from "./recording-framework.js";

const casesOf = (group: ConformanceGroup) => conformanceCases.filter((testCase) => testCase.group === group);

/** Registers the suite for a provider declaring `declared` and returns the registered tests of `group`. */
function registeredTests(declared: ProviderCapabilities, group: ConformanceGroup) {
  const { framework, registered } = recordingFramework();
  describeProviderConformance({ name: "P", create: () => providerDeclaring(declared), reopen: () => providerDeclaring(declared) }, framework);
  return registered.filter((test) => test.title.startsWith(`${group}: `));
}

describe("a conformance case needing a capability the provider does not declare", () => {
  it('runConformanceCase resolves "skipped" for it, without saving, and still destroys the provider', async () => {
    const providers: ReturnType<typeof providerDeclaring>[] = [];
    const destroy = vi.fn();
    const initializer = { name: "P", create: () => providers[providers.push(providerDeclaring({ list: true })) - 1]!, reopen: () => providerDeclaring({ list: true }), destroy };

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

  it("names what the waiting groups need: timers and due claim and the mailbox, mailbox the mailbox, push the mailbox and push", async () => {
    const notesOf = async (declared: ProviderCapabilities, group: ConformanceGroup) => {
      const { framework, registered } = recordingFramework();
      describeProviderConformance({ name: "P", create: () => providerDeclaring(declared), reopen: () => providerDeclaring(declared) }, framework);
      const context = markingContext();
      for (const test of registered.filter((registration) => registration.title.startsWith(`${group}: `))) await test.body(context);
      return [...new Set(context.notes)];
    };

    for (const group of ["timers", "mailbox", "due", "push"] as const) expect(casesOf(group).length).toBeGreaterThan(0);
    expect(await notesOf({ compareAndSet: true, mailbox: true }, "timers")).toEqual(["the provider does not declare capabilities.claim"]);
    expect(await notesOf({ compareAndSet: true, claim: true }, "timers")).toEqual(["the provider does not declare capabilities.mailbox"]);
    expect(await notesOf({ compareAndSet: true, claim: true }, "mailbox")).toEqual(["the provider does not declare capabilities.mailbox"]);
    expect(await notesOf({ compareAndSet: true, mailbox: true }, "due")).toEqual(["the provider does not declare capabilities.claim"]);
    expect(await notesOf({ push: true }, "push")).toEqual(["the provider does not declare capabilities.mailbox"]);
    expect(await notesOf({ mailbox: true }, "push")).toEqual(["the provider does not declare capabilities.push"]);
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

describe("a conformance case needing a second provider object on the store", () => {
  const needingReopen = conformanceCases.filter((testCase) => testCase.requires?.includes("reopen") === true);
  const everything = { compareAndSet: true, list: true, claim: true, mailbox: true, push: true };

  it("is skipped, naming the reopen hook, without making a provider, when the initializer has none", async () => {
    const create = vi.fn(() => providerDeclaring(everything));

    expect([...new Set(needingReopen.map((testCase) => testCase.group))].sort()).toEqual(["claim", "compareAndSet", "due", "mailbox", "push"]);
    for (const testCase of needingReopen) expect(await runConformanceCase({ name: "P", create }, testCase)).toBe("skipped");
    expect(create).not.toHaveBeenCalled();

    const { framework, registered } = recordingFramework();
    describeProviderConformance({ name: "P", create }, framework);
    const context = markingContext();
    for (const test of registered.filter((registration) => needingReopen.some((testCase) => registration.title === `${testCase.group}: ${testCase.name}`))) await test.body(context);
    expect(context.notes).toEqual(needingReopen.map(() => "the initializer has no reopen(provider) hook to open a second provider object on the same store"));
  });

  it("destroys what reopen(provider) opened, after the case, with the provider it reopened", async () => {
    const destroyed: unknown[] = [];
    const reopen = vi.fn(() => providerDeclaring({}));
    const provider = providerDeclaring({ mailbox: true });
    const initializer = { name: "P", create: () => provider, reopen, destroy: (made: unknown) => void destroyed.push(made) };
    const [mailboxCase] = needingReopen.filter((testCase) => testCase.group === "mailbox");

    // The reopened object declares nothing and implements no deliver(): the case fails, and still cleans up.
    await expect(runConformanceCase(initializer, mailboxCase!)).rejects.toThrow();
    expect(reopen).toHaveBeenCalledWith(provider);
    expect(destroyed).toEqual([reopen.mock.results[0]?.value, provider]);
  });
});
