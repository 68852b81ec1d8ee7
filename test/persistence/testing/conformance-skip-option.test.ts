import { describe, expect, it, vi } from "vitest";
import { conformanceCases, describeProviderConformance } from "../../../src/persistence/testing/index.js";
import { providerDeclaring } from "./provider-without.js";
import { markingContext, recordingFramework } from "./recording-framework.js";

const titlesOf = (groups: readonly string[]) => conformanceCases.filter((testCase) => groups.includes(testCase.group)).map((testCase) => `${testCase.group}: ${testCase.name}`);

describe("describeProviderConformance's skip option", () => {
  it("registers every case of a group named in skip with it.skip, and every other case with it", () => {
    const { framework, registered } = recordingFramework();
    describeProviderConformance({ name: "P", create: () => providerDeclaring({ compareAndSet: true, list: true }), skip: ["list", "recovery"] }, framework);

    expect(registered.filter((test) => test.via === "it.skip").map((test) => test.title)).toEqual(titlesOf(["list", "recovery"]));
    expect(registered.filter((test) => test.via === "it").map((test) => test.title)).toEqual(titlesOf(["basics", "values", "keys", "large", "compareAndSet", "claim", "timers", "mailbox", "due", "push", "unreadable", "abort", "workflow"]));
  });

  it("without it.skip, registers a skipped group's cases with it, and they mark themselves skipped without creating a provider", async () => {
    const { framework, registered } = recordingFramework({ withItSkip: false });
    const create = vi.fn(() => providerDeclaring({ compareAndSet: true, list: true }));
    describeProviderConformance({ name: "P", create, skip: ["large"] }, framework);

    const large = registered.filter((test) => test.title.startsWith("large: "));
    expect(large.map((test) => test.via)).toEqual(["it"]);
    const context = markingContext();
    for (const test of large) await test.body(context);
    expect(context.notes).toEqual(['the initializer\'s skip option names group "large"']);
    expect(create).not.toHaveBeenCalled();
  });

  it("throws a TypeError naming an unknown group, and the groups there are, before registering anything", () => {
    const { framework, described } = recordingFramework();
    const register = () => describeProviderConformance({ name: "P", create: () => providerDeclaring(), skip: ["basics", "lists" as never] }, framework);

    expect(register).toThrow(TypeError);
    expect(register).toThrow('describeProviderConformance(initializer, framework): initializer.skip names unknown group "lists"; the groups are basics, values, keys, large, compareAndSet, list, claim, timers, mailbox, due, push, unreadable, abort, workflow, recovery');
    expect(described).toEqual([]);
  });

  it("throws a TypeError when skip is a single name instead of an array", () => {
    const { framework } = recordingFramework();
    const register = () => describeProviderConformance({ name: "P", create: () => providerDeclaring(), skip: "list" as never }, framework);

    expect(register).toThrow(new TypeError("describeProviderConformance(initializer, framework): initializer.skip must be an array of group names, got string"));
  });
});
