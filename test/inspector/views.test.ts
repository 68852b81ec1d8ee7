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
