import type { WorkflowExecutionSnapshot } from "./snapshot.js";

/**
 * Definitions with more operations than this keep no timeline: a durable store encodes it with
 * every checkpoint, so its cost per step would grow with the length of the definition.
 */
export const timelineOperationLimit = 1000;

/** A stored timeline: `startedAt,finishedAt,executions` per operation, `;` between them. */
const timelinePattern = /^\d*,\d*,\d+(?:;\d*,\d*,\d+)*$/;

// The entries of operations that never started, each after its ";", as many as a timeline holds.
const unstartedEntries = ";,,0".repeat(timelineOperationLimit);

/**
 * Whether `value` is a stored timeline. `unstarted` is how many entries at its end the caller
 * expects to be `,,0`, operations not started yet (in a run in progress, all after the next one):
 * when they are, one comparison with a run of such entries made once checks them at memcmp speed,
 * and only the text before them goes through the pattern, which costs about 0.7 ns a character.
 * The answer is the pattern's either way: a timeline followed by `;,,0` entries is a timeline, and
 * one that ends in such entries is a timeline without them, since every `;` separates two entries.
 */
export function isTimelineText(value: unknown, unstarted = 0): value is string {
  if (typeof value !== "string") return false;
  const tail = 4 * unstarted;
  if (unstarted > 0 && tail < value.length && tail <= unstartedEntries.length && value.slice(value.length - tail) === unstartedEntries.slice(0, tail)) {
    return timelinePattern.test(value.slice(0, value.length - tail));
  }
  return timelinePattern.test(value);
}

// The texts timelines here made last, each only digits, commas and semicolons: an encoder that
// finds its text among them knows it needs no escaping without reading it. Newest at `recentNext - 1`.
const recentTexts: (string | undefined)[] = new Array<string | undefined>(8);
let recentNext = 0;

/**
 * Whether `text` is one of the last few texts a {@link Timeline} made in this process, or equal to
 * one: then it holds nothing but digits, `,` and `;`. The newest is compared first, by reference.
 */
export function isRecentTimelineText(text: string): boolean {
  for (let i = 1; i <= recentTexts.length; i++) {
    if (recentTexts[(recentNext - i) & (recentTexts.length - 1)] === text) return true;
  }
  return false;
}

/**
 * When each operation of a run first started, last finished, and how many times it was executed,
 * as milliseconds after the instance's `createdAt`. Bounded by the number of operations, never by
 * the number of executions, and written with the checkpoints that happen anyway: a checkpoint that
 * lets the next operation start counts that operation as started, so an operation re-executed
 * after a crash counts twice without a write of its own.
 *
 * Stored as one string, which a store encodes and a live copy shares without walking it. Only the
 * operation in progress changes between checkpoints, so the text of those before it is kept, and
 * the text of those after it was joined once: a checkpoint costs the same at any length.
 */
export class Timeline {
  readonly #origin: number;
  readonly #startedAt: number[];
  readonly #finishedAt: number[];
  readonly #executions: number[];
  // The highest operation this run counted: a renewal's save does not count the running one again.
  #counted = -1;
  // Operations [0, #done) can no longer change in this run; #doneText is their text, each followed by ";".
  #done = 0;
  #doneText = "";
  // The text of every operation as this run found them, joined by ";", and where each one's starts
  // (undefined for a new timeline, where each is ",,0;"): the text after operation i is a slice of
  // it, which points into it rather than copying it.
  readonly #foundText: string;
  readonly #starts: number[] | undefined;
  // The last text toSnapshot() made, and the length of #doneText in it.
  #lastText: string | undefined;
  #lastDoneLength = 0;
  #pieces = 0;

  // `stored` is undefined for a new timeline (every operation ",,0"), else the parsed entries.
  private constructor(origin: number, count: number, stored?: readonly (readonly [number, number, number])[]) {
    this.#origin = origin;
    this.#startedAt = stored?.map((entry) => entry[0]) ?? new Array<number>(count).fill(-1);
    this.#finishedAt = stored?.map((entry) => entry[1]) ?? new Array<number>(count).fill(-1);
    this.#executions = stored?.map((entry) => entry[2]) ?? new Array<number>(count).fill(0);
    if (stored === undefined) {
      this.#foundText = count === 0 ? "" : `${",,0;".repeat(count - 1)},,0`;
      this.#starts = undefined;
      return;
    }
    const entries = stored.map((_, index) => this.#entry(index));
    this.#foundText = entries.join(";");
    const starts = (this.#starts = new Array<number>(entries.length));
    let start = 0;
    entries.forEach((entry, index) => {
      starts[index] = start;
      start += entry.length + 1;
    });
  }

  /**
   * The timeline of a definition of `count` operations whose instance was created at `origin`
   * (epoch ms), continuing `stored` when it fits; undefined past {@link timelineOperationLimit}.
   */
  static of(count: number, origin: number, stored?: string): Timeline | undefined {
    if (count > timelineOperationLimit) return undefined;
    const entries = stored === undefined ? [] : parseTimeline(stored);
    return new Timeline(origin, count, entries.length === count && count > 0 ? entries : undefined);
  }

  /** Operation `index` starts now. */
  started(index: number): void {
    if (index > this.#counted) this.#count(index, Date.now());
  }

  /** A checkpoint is about to be stored after which operation `index` starts: it counts it. */
  announce(index: number, now = Date.now()): void {
    if (index > this.#counted && index < this.#executions.length) this.#count(index, now);
  }

  /** Operation `index` finished at `now` (completed or failed). */
  finished(index: number, now = Date.now()): void {
    if (index >= this.#executions.length) return;
    this.#settle(index);
    this.#finishedAt[index] = this.#offset(now);
  }

  /** The text a snapshot stores. */
  toSnapshot(): string {
    const index = this.#done;
    const next = index + 1 >= this.#executions.length ? undefined : (this.#starts?.[index + 1] ?? 4 * (index + 1));
    // Each part is flat (or a slice), so the encoder copies the text in one pass instead of walking
    // a tree of two hundred small pieces on every checkpoint.
    this.#lastDoneLength = this.#doneText.length;
    this.#lastText = `${this.#doneText}${this.#entry(index)}${next === undefined ? "" : this.#foundText.slice(next - 1)}`;
    recentTexts[recentNext++ & (recentTexts.length - 1)] = this.#lastText;
    return this.#lastText;
  }

  #count(index: number, now: number): void {
    this.#settle(index);
    this.#counted = index;
    this.#executions[index] = (this.#executions[index] ?? 0) + 1;
    if ((this.#startedAt[index] ?? -1) < 0) this.#startedAt[index] = this.#offset(now);
  }

  // Operations run forward: once operation `index` is touched, those before it are final.
  #settle(index: number): void {
    if (this.#done >= index) return;
    let text = this.#doneText;
    // Appending makes a tree of pieces, which a store's encoder walks in every checkpoint. The last
    // text handed out starts with #doneText: a slice of it is one flat string (free when an encoder
    // already flattened that text, one copy when it spliced it unread). Only every few operations,
    // so that the copy is rare and the tree stays shallow.
    if (++this.#pieces >= 16 && this.#lastText !== undefined && this.#lastDoneLength === text.length) [text, this.#pieces] = [this.#lastText.slice(0, text.length), 0];
    while (this.#done < index) text += `${this.#entry(this.#done++)};`;
    this.#doneText = text;
  }

  #entry(index: number): string {
    const started = this.#startedAt[index] ?? -1;
    const finished = this.#finishedAt[index] ?? -1;
    return `${started < 0 ? "" : started},${finished < 0 ? "" : finished},${this.#executions[index] ?? 0}`;
  }

  // Clocks of two processes may disagree: an offset is never negative.
  #offset(now: number): number {
    return Math.max(0, now - this.#origin);
  }
}

/** `[startedAt, finishedAt, executions]` per operation of a stored timeline, -1 for a time that never came. */
function parseTimeline(text: string): [number, number, number][] {
  if (!isTimelineText(text)) return [];
  return text.split(";").map((entry) => {
    const [started = "", finished = "", executions = "0"] = entry.split(",");
    return [started === "" ? -1 : Number(started), finished === "" ? -1 : Number(finished), Number(executions)];
  });
}

/** One operation of a snapshot's timeline, with its times as dates. */
export interface OperationTimeline {
  readonly index: number;
  /** When it first started; undefined when it never did. */
  readonly startedAt: Date | undefined;
  /** When it last finished (completed or failed); undefined when it never did. */
  readonly finishedAt: Date | undefined;
  /** How many times it was executed: more than 1 when it ran again after a crash or a failure. */
  readonly executions: number;
}

/**
 * The timeline of `snapshot`, one entry per operation of its definition, in order; undefined when
 * the snapshot has none (written before timelines existed, or a definition of more than 1,000
 * operations).
 */
export function readTimeline(snapshot: Pick<WorkflowExecutionSnapshot, "createdAt" | "timeline">): OperationTimeline[] | undefined {
  if (snapshot.timeline === undefined) return undefined;
  const origin = Date.parse(snapshot.createdAt);
  const at = (offset: number): Date | undefined => (offset < 0 ? undefined : new Date(origin + offset));
  return parseTimeline(snapshot.timeline).map(([started, finished, executions], index) => ({ index, startedAt: at(started), finishedAt: at(finished), executions }));
}
