import { describe, expect, it } from "vitest";
import type { ProviderCapabilities } from "../../../src/persistence/index.js";
import { conformanceCases, runConformanceCase, type ConformanceGroup } from "../../../src/persistence/testing/index.js";
import { flawedStore, type Flaws } from "./flawed-store.js";

// Stores a user could plausibly write, each passing every call made one at a time, and wrong in one
// way that shows only under concurrency, through a second provider object, or past a first page.

/** Runs the cases of `groups` on the store (each case on a fresh object, `reopen` a second one); resolves the failures, one line each. */
async function failures(flaws: Flaws, groups: readonly ConformanceGroup[], capabilities?: ProviderCapabilities): Promise<string[]> {
  const store = flawedStore(flaws, capabilities);
  const initializer = { name: "FlawedStore", create: () => store.open(), reopen: () => store.open() };
  const failed: string[] = [];
  for (const testCase of conformanceCases.filter((candidate) => groups.includes(candidate.group))) {
    await runConformanceCase(initializer, testCase).catch((error: unknown) => void failed.push(`${testCase.name}: ${String(error)}`));
  }
  return failed;
}

describe("the conformance kit catches", () => {
  it("a compare-and-set atomic only within one provider object: writers of one revision through two objects both win", async () => {
    expect(await failures({ objectLocal: true }, ["compareAndSet"])).toEqual([expect.stringMatching(/through two provider objects[\s\S]*exactly one writer must win, got 2/)]);
  });

  it("a claim() atomic only within one provider object: claims made at once through two objects take one record twice", async () => {
    const claimFailures = await failures({ objectLocal: true }, ["claim"]);
    expect(claimFailures).toEqual([expect.stringMatching(/through two provider objects[\s\S]*claimed twice/)]);
  });

  it("a claim() judging leases by the request's own `now` alone: a claim a stall delivered after its lease ended still takes records", async () => {
    expect(await failures({ claimsLate: true }, ["claim"])).toEqual([expect.stringMatching(/^a claim the store runs only after its own lease has ended[\s\S]*a claim run after its own lease ended \(by the store's clock\) took records/)]);
  });

  it("a store keeping every record in one document that each write reads and writes back: of saves made at once to different instances, some are lost", async () => {
    // No capabilities: a provider declaring none must still be tested for concurrent saves.
    expect(await failures({ oneDocument: true }, ["basics"], {})).toEqual([expect.stringMatching(/saves of 20 different instances made at once[\s\S]*was lost/)]);
  });

  it("a claim() handing out the stored objects: changing what it returned changes the stored record", async () => {
    expect(await failures({ sharesObjects: true }, ["claim"])).toEqual([expect.stringMatching(/^what claim\(\) returns is the caller's own[\s\S]*changing what claim\(\) returned changed the stored record/)]);
  });

  it("a list() handing out the stored objects: changing what it returned changes the stored record", async () => {
    expect(await failures({ sharesObjects: true }, ["list"])).toEqual([expect.stringMatching(/^what list\(\) returns is the caller's own[\s\S]*changing what list\(\) returned changed the stored record/)]);
  });

  it("a list() that returns only a first page of 50 matches", async () => {
    expect(await failures({ pageSize: 50 }, ["list"])).toEqual([expect.stringMatching(/^list\(\) returns every match among 1,100 records[\s\S]*returned 50 of 1100/)]);
  });

  it("a list() that returns only a first page of 1,000 matches, as S3 and Google Cloud Storage hand out", async () => {
    expect(await failures({ pageSize: 1_000 }, ["list"])).toEqual([expect.stringMatching(/^list\(\) returns every match among 1,100 records[\s\S]*returned 1000 of 1100 matching records/)]);
  });

  it("and passes those groups on the same store without the flaw, with and without capabilities", async () => {
    expect(await failures({}, ["basics", "compareAndSet", "list", "claim"])).toEqual([]);
    expect(await failures({}, ["basics"], {})).toEqual([]);
  });
});
