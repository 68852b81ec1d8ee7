import { describe, expect, it } from "vitest";
import { fingerprintOf } from "../../src/persistence/snapshot.js";
import { fingerprintFor } from "../../src/persistence/snapshot-state.js";

type Named = { name: string };
const definition = (operations: readonly Named[], version?: string) => ({ version, operations }) as unknown as Parameters<typeof fingerprintOf>[0];

describe("fingerprintFor(workflow)", () => {
  it("equals fingerprintOf for a copy of the same operations, run after run", () => {
    const operations = [{ name: "charge" }, { name: "ship" }];
    const first = fingerprintFor(definition(operations));
    expect(first).toBe(fingerprintOf(definition(operations)));
    // A foundry hands each run a new copy of its list: the same operation objects.
    expect(fingerprintFor(definition([...operations]))).toBe(first);
  });

  it("follows a renamed operation, a changed version and a changed list that keep the first operation", () => {
    const [charge, ship] = [{ name: "charge" }, { name: "ship" }];
    const cases: Array<[readonly Named[], string | undefined]> = [
      [[charge, ship], undefined],
      [[charge, ship], "v2"],
      [[charge], "v2"],
      [[charge, ship, { name: "notify" }], "v2"],
      [[charge, { name: "refund" }], "v2"],
    ];
    for (const [operations, version] of cases) expect(fingerprintFor(definition(operations, version))).toBe(fingerprintOf(definition(operations, version)));
    ship.name = "deliver";
    expect(fingerprintFor(definition([charge, ship], "v2"))).toBe(fingerprintOf(definition([charge, ship], "v2")));
    expect(fingerprintFor(definition([charge, ship], "v2"))).not.toBe(fingerprintOf(definition([charge, { name: "ship" }], "v2")));
  });

  it("fingerprints a definition without operations", () => {
    expect(fingerprintFor(definition([]))).toBe(fingerprintOf(definition([])));
  });
});
