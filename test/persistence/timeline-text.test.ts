import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Timeline } from "../../src/persistence/timeline.js";

// A model of what the text must say, rebuilt from scratch on every read: the class keeps parts of
// its text between checkpoints, and must still spell every operation as it is now.
class TimelineModel {
  readonly startedAt: number[];
  readonly finishedAt: number[];
  readonly executions: number[];
  counted = -1;

  constructor(
    count: number,
    readonly origin: number,
  ) {
    [this.startedAt, this.finishedAt, this.executions] = [new Array<number>(count).fill(-1), new Array<number>(count).fill(-1), new Array<number>(count).fill(0)];
  }

  count(index: number, now: number): void {
    if (index <= this.counted || index >= this.executions.length) return;
    this.counted = index;
    this.executions[index] = (this.executions[index] ?? 0) + 1;
    if ((this.startedAt[index] ?? -1) < 0) this.startedAt[index] = Math.max(0, now - this.origin);
  }

  finished(index: number, now: number): void {
    if (index < this.executions.length) this.finishedAt[index] = Math.max(0, now - this.origin);
  }

  text(): string {
    const time = (value: number | undefined) => (value === undefined || value < 0 ? "" : String(value));
    return this.executions.map((executions, index) => `${time(this.startedAt[index])},${time(this.finishedAt[index])},${executions}`).join(";");
  }
}

type Call = { readonly kind: "started" | "finished" | "announce" | "read" | "encode"; readonly step: number; readonly ms: number };

const call = fc.record({ kind: fc.constantFrom("started", "finished", "announce", "read", "encode"), step: fc.constantFrom(0, 0, 1, 1, 1, 2), ms: fc.nat(50) }) as fc.Arbitrary<Call>;

describe("Timeline.toSnapshot()", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("spells every operation as it is now, whatever the calls in between and whether the text was read", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.array(call, { maxLength: 300 }), (count, calls) => {
        const origin = Date.parse("2026-12-05T08:00:00.000Z");
        vi.setSystemTime(origin);
        const timeline = Timeline.of(count, origin) as Timeline;
        const model = new TimelineModel(count, origin);
        // Operations run forward: every call is about the same operation as the one before, or a later one.
        let index = 0;
        for (const { kind, step, ms } of calls) {
          vi.setSystemTime(Date.now() + ms);
          if (kind === "read" || kind === "encode") {
            const text = timeline.toSnapshot();
            // What a store's encoder does to the text: reads all of it (which flattens it in V8).
            if (kind === "encode") expect(JSON.parse(JSON.stringify(text))).toBe(model.text());
            else expect(text).toBe(model.text());
            continue;
          }
          // Only a checkpoint after the last operation announces one past the end.
          const at = Math.min(index + step, kind === "announce" ? count : count - 1);
          if (kind === "started") timeline.started(at);
          else if (kind === "announce") timeline.announce(at);
          else timeline.finished(at);
          if (kind === "finished") model.finished(at, Date.now());
          else model.count(at, Date.now());
          index = Math.min(at, count - 1);
        }
        expect(timeline.toSnapshot()).toBe(model.text());
      }),
      { numRuns: 300 },
    );
  });

  it.for([1, 2, 3, 5, 7])("spells every operation when the text is read after every %i operations of a long run", (every) => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const origin = Date.parse("2026-12-05T08:00:00.000Z");
    vi.setSystemTime(origin);
    const [timeline, model] = [Timeline.of(80, origin) as Timeline, new TimelineModel(80, origin)];
    for (let index = 0; index < 80; index++) {
      vi.setSystemTime(Date.now() + 3);
      timeline.started(index);
      model.count(index, Date.now());
      vi.setSystemTime(Date.now() + 4);
      timeline.finished(index);
      model.finished(index, Date.now());
      if (index % every === 0) expect(JSON.parse(JSON.stringify(timeline.toSnapshot()))).toBe(model.text());
    }
    expect(timeline.toSnapshot()).toBe(model.text());
  });

  it("continues a stored timeline, changing only the operations this run touches", () => {
    const stored = "0,5,1;7,9,2;12,,1;,,0;,,0";
    const timeline = Timeline.of(5, 1_000, stored) as Timeline;
    expect(timeline.toSnapshot()).toBe(stored);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(1_020);
    timeline.started(2);
    timeline.finished(2);
    expect(timeline.toSnapshot()).toBe("0,5,1;7,9,2;12,20,2;,,0;,,0");
  });
});
