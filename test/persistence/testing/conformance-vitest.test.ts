import * as vitest from "vitest";
import { describe, expect, it } from "vitest";
import { conformanceCases, describeProviderConformance } from "../../../src/persistence/testing/index.js";
import { providerDeclaring } from "./provider-without.js";

// The suite registers with the real vitest here; the tests below run after it (a file's tests run
// in order) and read the results vitest recorded for its cases.
const name = "A memory provider declaring no capabilities";
describeProviderConformance({ name, create: () => providerDeclaring({}), reopen: () => providerDeclaring({}), skip: ["large", "workflow"] }, vitest);

function recordedCases(task: vitest.RunnerTestCase) {
  const suite = task.file.tasks.find((child) => child.name === `${name} conforms to the workflowforge provider contract`);
  if (suite?.type !== "suite") throw new Error("the conformance suite was not registered");
  return (group: string) => suite.tasks.filter((test) => test.name.startsWith(`${group}: `));
}

// vitest records the skip note in the task's result, which its types do not declare.
const noteOf = (test: vitest.RunnerTask): unknown => (test.result as { note?: string } | undefined)?.note;

describe("describeProviderConformance in vitest", () => {
  it("reports each case needing an undeclared capability as skipped, with a note naming the capability", ({ task }) => {
    const casesOf = recordedCases(task);
    const outcome = (group: string) => casesOf(group).map((test) => [test.result?.state, noteOf(test)]);

    expect(outcome("compareAndSet")).toEqual(casesOf("compareAndSet").map(() => ["skip", "the provider does not declare capabilities.compareAndSet"]));
    expect(outcome("list")).toEqual(casesOf("list").map(() => ["skip", "the provider does not declare capabilities.list"]));
    expect(outcome("recovery")).toEqual(casesOf("recovery").map(() => ["skip", "the provider does not declare capabilities.compareAndSet and capabilities.list"]));
    expect(casesOf("recovery").length).toBeGreaterThan(0);
    // The initializer has no corrupt hook, which is checked before any provider is made.
    expect(outcome("unreadable")).toEqual(casesOf("unreadable").map(() => ["skip", "the initializer has no corrupt(keys, provider) hook to make a stored record unreadable"]));
    expect(casesOf("compareAndSet")).toHaveLength(conformanceCases.filter((testCase) => testCase.group === "compareAndSet").length);
  });

  it("registers the groups named in skip as skipped tests, which vitest never runs", ({ task }) => {
    const casesOf = recordedCases(task);
    const skipped = [...casesOf("large"), ...casesOf("workflow")];

    expect(skipped.map((test) => [test.mode, test.result?.state])).toEqual([
      ["skip", undefined],
      ["skip", undefined],
    ]);
  });

  it("runs and passes the cases the provider can run", ({ task }) => {
    const casesOf = recordedCases(task);
    const ran = [...casesOf("basics"), ...casesOf("keys"), ...casesOf("abort")];

    expect(ran.map((test) => test.result?.state)).toEqual(ran.map(() => "pass"));
    expect(ran).toHaveLength(conformanceCases.filter((testCase) => ["basics", "keys", "abort"].includes(testCase.group)).length);
  });
});
