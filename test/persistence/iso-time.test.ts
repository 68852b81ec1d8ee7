import { describe, expect, it } from "vitest";
import { isoTime } from "../../src/persistence/snapshot-state.js";

describe("isoTime", () => {
  it("spells every instant exactly as toISOString does, across seconds, alternating instants and the edges of the plain form", () => {
    const now = Date.now();
    const edges = [0, 1, 999, 1_000, 1_001, 253_402_300_799_999, 253_402_300_800_000, -1, 1.5, now, now + 30_000, now + 1, now + 30_001];
    const random = Array.from({ length: 5_000 }, () => Math.floor(Math.random() * 253_402_300_799_999));
    for (const ms of [...edges, ...random]) expect(isoTime(ms), String(ms)).toBe(new Date(ms).toISOString());
  });
});
