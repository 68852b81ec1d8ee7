import { describe, expect, it } from "vitest";
import { detailOf, groupDeadLetters, rowOf } from "../../src/inspector/views.js";
import { fullSnapshot } from "../../src/persistence/testing/fixtures.js";

const now = Date.parse("2026-03-01T00:00:00.000Z");
const huge = "x".repeat(1_000_000);
// A dead letter (3 attempts of 3, no lease) whose error's name and message are a million characters.
const failed = () => {
  const snapshot = fullSnapshot({ status: "failed", attempts: 3, error: { name: `Error${huge}`, message: huge, operationIndex: 3, operationName: "charge" } });
  delete (snapshot as { leaseExpiresAt?: string }).leaseExpiresAt;
  return snapshot;
};

describe("rowOf", () => {
  it("cuts a stored error's name and message at 20,000 characters, as the page cuts every string", () => {
    const row = rowOf(failed(), now, 3);
    expect(row.error?.message).toBe(huge.slice(0, 20_000));
    expect(row.error?.name).toHaveLength(20_000);
    expect(row.error).toMatchObject({ operationIndex: 3, operationName: "charge" });
  });

  it("cuts them in the detail's row and in the dead-letter groups too", () => {
    expect(detailOf(failed(), now, 3).row.error?.message).toHaveLength(20_000);
    const [group] = groupDeadLetters([rowOf(failed(), now, 3), rowOf(failed(), now, 3)]);
    expect(group?.instances).toHaveLength(2);
    expect(group?.message).toHaveLength(20_000);
    expect(group?.errorName).toHaveLength(20_000);
  });

  it("leaves an error's message within 20,000 characters whole", () => {
    expect(rowOf(fullSnapshot({ status: "failed" }), now, 3).error).toEqual({ name: "Error", message: "card declined", operationIndex: 3, operationName: "charge" });
  });
});

describe("detailOf", () => {
  const many = (count: number) => Array.from({ length: count }, (_, index) => `k${index}`);
  const longKey = "k".repeat(100_000);
  const crowded = () =>
    fullSnapshot({
      properties: { [longKey]: 1, ...Object.fromEntries(many(1_000).map((key) => [key, key])) },
      consumedEvents: [longKey, ...many(999)],
      annotations: Object.fromEntries(many(1_000).map((key) => [key, key])),
      outputs: Object.fromEntries(many(1_000).map((_, index) => [index, index])),
    });

  it("cuts an instance's top-level properties, outputs, consumed events and annotations at 200, and says how many there are", () => {
    const detail = detailOf(crowded(), now, 3);
    expect([detail.properties.length, detail.outputs.length, detail.consumedEvents.length, detail.annotations.length]).toEqual([200, 200, 200, 200]);
    expect(detail.sizes).toEqual({ properties: 1_001, outputs: 1_000, annotations: 1_000, consumedEvents: 1_000 });
    expect(detail.outputs.at(-1)).toEqual([199, { t: "number", v: "199" }]);
    expect(detail.properties[1]).toEqual(["k0", { t: "string", v: "k0" }]);
  });

  it("cuts a top-level property's key and a consumed event's id at 20,000 characters, as a nested key, saying how long it was", () => {
    const detail = detailOf(crowded(), now, 3);
    const cutKey = `${longKey.slice(0, 20_000)}… (100000 characters)`;
    expect(detail.properties[0]).toEqual([cutKey, { t: "number", v: "1" }]);
    expect(detail.consumedEvents[0]).toBe(cutKey);
  });

  it("leaves a record within the bounds whole", () => {
    const detail = detailOf(fullSnapshot({ consumedEvents: ["mail-1"], annotations: { tenant: "acme" } }), now, 3);
    expect([detail.consumedEvents, detail.annotations, detail.sizes.consumedEvents, detail.sizes.annotations]).toEqual([["mail-1"], [["tenant", "acme"]], 1, 1]);
  });
});
