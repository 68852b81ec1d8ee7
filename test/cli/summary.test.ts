import { describe, expect, it } from "vitest";
import { byUpdatedAt, sortedByUpdatedAt } from "../../src/cli/summary.js";
import { groupDeadLetters, rowOf } from "../../src/inspector/views.js";
import { fullSnapshot } from "../../src/persistence/testing/fixtures.js";

const at = "2026-03-01T00:00:00.000Z";
const instances = (ids: readonly string[]): string[] =>
  ids.map((id) => fullSnapshot({ foundryExecutionId: id, workflowId: "billing-v1", updatedAt: at })).sort(byUpdatedAt).map((snapshot) => snapshot.foundryExecutionId);

describe("byUpdatedAt", () => {
  it("orders snapshots saved at the same instant by their keys' code units, whatever the locale", () => {
    expect(instances(["zeta", "äpfel", "apple"])).toEqual(["apple", "zeta", "äpfel"]);
    expect(instances(["Zeta", "apple"])).toEqual(["Zeta", "apple"]);
  });

  it("tells apart keys that only look alike, in the same order whichever was listed first", () => {
    const decomposed = "e\u0301";
    const composed = "\u00e9";
    expect(instances([composed, decomposed])).toEqual([decomposed, composed]);
    expect(instances([decomposed, composed])).toEqual([decomposed, composed]);
  });

  it("is one order whatever order the snapshots come in, when an updatedAt is not a date: those first, by keys", () => {
    const saved = (id: string, updatedAt: string) => fullSnapshot({ foundryExecutionId: id, workflowId: "billing-v1", updatedAt });
    const [a, b, c, d] = [saved("z", "2026-03-01T00:00:01.000Z"), saved("m", "not a date"), saved("a", "2026-03-01T00:00:02.000Z"), saved("b", "")];
    const orders = [[a, b, c, d], [b, c, a, d], [c, a, d, b], [d, c, b, a], [c, b, a, d]].map((list) => list.sort(byUpdatedAt).map((snapshot) => snapshot.foundryExecutionId));
    expect(orders).toEqual(Array.from({ length: 5 }, () => ["b", "m", "z", "a"]));
    // sortedByUpdatedAt, which list and the inspector sort with, parses each time once: same order.
    expect([[a, b, c, d], [d, c, b, a]].map((list) => sortedByUpdatedAt(list).map((snapshot) => snapshot.foundryExecutionId))).toEqual([orders[0], orders[0]]);
  });

  it("orders by workflow key when the instance is the same", () => {
    const pair = (workflowId: string) => fullSnapshot({ foundryExecutionId: "order-1", workflowId, updatedAt: at });
    expect([pair("ä-v1"), pair("b-v1")].sort(byUpdatedAt).map((snapshot) => snapshot.workflowId)).toEqual(["b-v1", "ä-v1"]);
  });
});

describe("groupDeadLetters", () => {
  it("orders groups of the same size by workflow name's code units, whatever the locale", () => {
    const deadLetter = (workflowName: string) => rowOf(fullSnapshot({ foundryExecutionId: `${workflowName}-1`, workflowId: `${workflowName}-v1`, workflowName, status: "failed", attempts: 3, updatedAt: at }), Date.parse(at), 3);
    const groups = groupDeadLetters(["zeta", "äpfel", "apple"].map(deadLetter));
    expect(groups.map((group) => group.workflowName)).toEqual(["apple", "zeta", "äpfel"]);
  });
});
