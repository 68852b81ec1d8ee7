import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeValue, defaultSnapshotCodec, type WorkflowExecutionSnapshot } from "../../src/persistence/index.js";
import { Timeline, isRecentTimelineText } from "../../src/persistence/timeline.js";
import { codecKeys, codecSnapshot } from "./codec-snapshots.js";

// The encoder splices a snapshot's timeline into the body instead of letting JSON.stringify scan it for
// escapes, when it can prove there is nothing to escape. The text must still be exactly the JSON of
// the snapshot (with the timeline last), and anything it cannot prove safe takes the ordinary path.

const operations = 40;
// 40 entries, 10 of them finished.
const timeline = Array.from({ length: operations }, (_, index) => (index < 10 ? `${index * 3},${index * 3 + 2},1` : index === 10 ? "30,,1" : ",,0")).join(";");
const longRun = (extra: Record<string, unknown> = {}): WorkflowExecutionSnapshot =>
  codecSnapshot({ order: "o-1", total: 12.5 }, { operationCount: operations, nextOperationIndex: 10, timeline, ...extra });

const bodyOf = (encoded: string): string => encoded.slice(encoded.indexOf(":", encoded.indexOf(":", 4) + 1) + 1);

/** JSON.stringify of `snapshot` with its timeline moved to the end: what the spliced body must be. */
function timelineLast(snapshot: WorkflowExecutionSnapshot): string {
  const { timeline: text, ...rest } = snapshot;
  return JSON.stringify({ ...rest, timeline: text });
}

describe("the codec's spliced timeline", () => {
  it.each([
    ["forty operations", longRun({ annotations: { note: "after the timeline in the object" } })],
    ["three operations", codecSnapshot({ n: 1 }, { timeline: "0,4,1;4,,1;,,0", annotations: { note: "after it" } })],
    ["one operation", codecSnapshot({}, { operationCount: 1, nextOperationIndex: 0, timeline: ",,0" })],
  ])("writes a plain snapshot's timeline last (%s), character for character what JSON.stringify writes, and decodes it back", (_, snapshot) => {
    const encoded = defaultSnapshotCodec.encode(snapshot);
    expect(bodyOf(encoded)).toBe(timelineLast(snapshot));
    expect(defaultSnapshotCodec.decode(encoded, codecKeys)).toStrictEqual(snapshot);
  });

  it("splices the text a Timeline made, which the encoder recognises without reading it", () => {
    const made = Timeline.of(operations, Date.parse("2024-01-01T00:00:00.000Z"))!;
    made.started(0);
    made.finished(0);
    made.announce(1);
    const text = made.toSnapshot();
    expect(isRecentTimelineText(text)).toBe(true);
    const snapshot = longRun({ timeline: text, nextOperationIndex: 1 });
    const encoded = defaultSnapshotCodec.encode(snapshot);
    expect(bodyOf(encoded)).toBe(timelineLast(snapshot));
    expect(defaultSnapshotCodec.decode(encoded, codecKeys).timeline).toBe(text);
  });

  it("leaves a timeline it cannot prove quiet to JSON.stringify, whatever it holds", () => {
    // Quotes, backslashes, control characters, lone surrogates: the body is still the snapshot's JSON.
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => {
        const snapshot = longRun({ timeline: text });
        expect(JSON.parse(bodyOf(defaultSnapshotCodec.encode(snapshot)))).toStrictEqual(JSON.parse(JSON.stringify(snapshot)));
      }),
      { numRuns: 300 },
    );
  });

  it("keeps the tagged path for a snapshot that is not plain JSON: the timeline is written once, nothing tagged as undefined", () => {
    const snapshot = longRun({ properties: { seen: new Map([["a", 1]]), at: new Date(0) } });
    const encoded = defaultSnapshotCodec.encode(snapshot);
    expect(encoded.split('"timeline"')).toHaveLength(2);
    expect(encoded).not.toContain('"undef"');
    expect(defaultSnapshotCodec.decode(encoded, codecKeys)).toStrictEqual(snapshot);
  });

  it("writes valid JSON for an object whose only key is a timeline", () => {
    const encoded = defaultSnapshotCodec.encode({ timeline } as unknown as WorkflowExecutionSnapshot);
    expect(decodeValue(bodyOf(encoded))).toStrictEqual({ timeline });
  });
});

describe("isRecentTimelineText", () => {
  const madeTexts = (count: number): string[] =>
    Array.from({ length: count }, (_, index) => {
      const made = Timeline.of(operations + index, 0)!;
      return made.toSnapshot();
    });

  it("knows the last eight texts timelines made, and any string equal to one, and nothing else", () => {
    const texts = madeTexts(9);
    expect(texts.slice(1).every(isRecentTimelineText)).toBe(true);
    expect(isRecentTimelineText(texts[0]!)).toBe(false);
    expect(isRecentTimelineText(` ${texts[8]!}`.slice(1))).toBe(true);
    expect(isRecentTimelineText(`${texts[8]!};,,0`)).toBe(false);
  });
});
