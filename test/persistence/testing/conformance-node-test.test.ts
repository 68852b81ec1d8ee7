import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { conformanceCases, type ConformanceCase } from "../../../src/persistence/testing/index.js";

// The README tells node:test users how to wire the kit. This runs that wiring for real, with
// `node --test` on node-test-suite.mjs (which imports the built package), and reads the TAP report.

interface Reported {
  readonly ok: boolean;
  /** The text after "# SKIP", "" for a skip without a note; undefined when the test ran. */
  readonly skip: string | undefined;
}

/** Every test line of the TAP report, by suite title and then by test title. */
function parseTap(tap: string): Map<string, Map<string, Reported>> {
  const suites = new Map<string, Map<string, Reported>>();
  let current: Map<string, Reported> | undefined;
  for (const line of tap.split("\n")) {
    const suite = /^# Subtest: (.*)$/.exec(line);
    if (suite !== null) suites.set(suite[1] as string, (current = new Map()));
    const test = /^ {4}(not )?ok \d+ - (.*?)(?: # SKIP(?: (.*))?)?$/.exec(line);
    if (test !== null && current !== undefined) current.set(test[2] as string, { ok: test[1] === undefined, skip: line.includes(" # SKIP") ? (test[3] ?? "") : undefined });
  }
  return suites;
}

const run = async () => {
  const suite = fileURLToPath(new URL("node-test-suite.mjs", import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ["--test", "--test-reporter=tap", suite], { timeout: 60_000 });
  return { stdout, suites: parseTap(stdout) };
};

const titles = conformanceCases.map((testCase) => `${testCase.group}: ${testCase.name}`);
const noCorrupt = "the initializer has no corrupt(keys, provider) hook to make a stored record unreadable";
const noReopen = "the initializer has no reopen(provider) hook to open a second provider object on the same store";
const needs: Record<string, string> = {
  compareAndSet: "the provider does not declare capabilities.compareAndSet",
  list: "the provider does not declare capabilities.list",
  claim: "the provider does not declare capabilities.compareAndSet and capabilities.claim",
  timers: "the provider does not declare capabilities.compareAndSet and capabilities.claim and capabilities.mailbox",
  mailbox: "the provider does not declare capabilities.mailbox",
  due: "the provider does not declare capabilities.compareAndSet and capabilities.claim and capabilities.mailbox",
  push: "the provider does not declare capabilities.mailbox and capabilities.push",
  unreadable: noCorrupt,
  recovery: "the provider does not declare capabilities.compareAndSet and capabilities.list",
};

describe("describeProviderConformance under node:test, wired as the README says", () => {
  it("runs every case, passes them on the memory provider, and reports missing capabilities and skipped groups as skips", async () => {
    // execFile rejects on a non-zero exit, which a failing case causes.
    const { stdout, suites } = await run();
    expect(stdout).toMatch(/^# fail 0$/m);

    const memory = suites.get("MemoryPersistenceProvider conforms to the workflowforge provider contract");
    expect([...(memory?.keys() ?? [])]).toEqual(titles);
    // Nothing in memory can be made unreadable, and no second object sees its records: the suite gives it neither hook.
    const memorySkip = (testCase: ConformanceCase) => (testCase.group === "unreadable" ? noCorrupt : testCase.requires?.includes("reopen") === true ? noReopen : undefined);
    expect([...(memory?.values() ?? [])]).toEqual(conformanceCases.map((testCase) => ({ ok: true, skip: memorySkip(testCase) })));

    const without = suites.get("A provider declaring no capabilities conforms to the workflowforge provider contract");
    expect([...(without?.keys() ?? [])]).toEqual(titles);
    for (const testCase of conformanceCases) {
      const skip = testCase.group === "large" ? "" : testCase.requires?.includes("reopen") === true ? noReopen : needs[testCase.group];
      expect({ title: testCase.name, ...without?.get(`${testCase.group}: ${testCase.name}`) }).toEqual({ title: testCase.name, ok: true, skip });
    }
  });
});
