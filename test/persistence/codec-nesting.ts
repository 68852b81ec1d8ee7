// Deeply nested values of each container kind the codec stores, shared by the depth tests and the
// child they run with a small stack.

/** The nesting limit the codec documents, counted in containers from the outermost. */
export const documentedMaxDepth = 100;

interface NestingKind {
  /** One more level around `inner`. */
  readonly wrap: (inner: unknown) => unknown;
  /** The level inside `value`, or `notThisKind`. */
  readonly unwrap: (value: unknown) => unknown;
  /** How one level appears in a SnapshotSerializationError's path. */
  readonly segment: string;
  /** The encoded text of one level, before and after the level inside it: for crafting records. */
  readonly open: string;
  readonly close: string;
}

const notThisKind = Symbol("not this kind");

const isPlain = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype;

const only = <T>(value: unknown, type: abstract new (...args: never[]) => T): T | undefined =>
  value instanceof type && Object.getPrototypeOf(value) === type.prototype ? value : undefined;

export const nestingKinds = {
  object: {
    wrap: (inner) => ({ a: inner }),
    unwrap: (value) => (isPlain(value) && Object.keys(value).join() === "a" ? value.a : notThisKind),
    segment: ".a",
    open: '{"a":',
    close: "}",
  },
  array: {
    wrap: (inner) => [inner],
    unwrap: (value) => (Array.isArray(value) && value.length === 1 ? (value[0] as unknown) : notThisKind),
    segment: "[0]",
    open: "[",
    close: "]",
  },
  map: {
    wrap: (inner) => new Map([["a", inner]]),
    unwrap: (value) => (only(value, Map)?.size === 1 ? (value as Map<unknown, unknown>).get("a") : notThisKind),
    segment: '<"a">',
    open: '{"$wf":"map","v":[["a",',
    close: "]]}",
  },
  mapKey: {
    wrap: (inner) => new Map([[inner, "v"]]),
    unwrap: (value) => (only(value, Map)?.size === 1 ? [...(value as Map<unknown, unknown>).keys()][0] : notThisKind),
    segment: "<key #0>",
    open: '{"$wf":"map","v":[[',
    close: ',"v"]]}',
  },
  set: {
    wrap: (inner) => new Set([inner]),
    unwrap: (value) => (only(value, Set)?.size === 1 ? [...(value as Set<unknown>)][0] : notThisKind),
    segment: "<#0>",
    open: '{"$wf":"set","v":[',
    close: "]}",
  },
  errorCause: {
    wrap: (inner) => new Error("e", { cause: inner }),
    unwrap: (value) => (only(value, Error)?.message === "e" ? (value as Error).cause : notThisKind),
    segment: ".cause",
    open: '{"$wf":"err","name":"Error","message":"e","cause":',
    close: "}",
  },
  escapedObject: {
    wrap: (inner) => ({ $wf: "mine", a: inner }),
    unwrap: (value) => (isPlain(value) && value.$wf === "mine" ? value.a : notThisKind),
    segment: ".a",
    open: '{"$wf":"obj","v":[["$wf","mine"],["a",',
    close: "]]}",
  },
} satisfies Record<string, NestingKind>;

export type NestingKindName = keyof typeof nestingKinds;
export const nestingKindNames = Object.keys(nestingKinds) as NestingKindName[];

/** `levels` containers of one kind around `leaf`. */
export function nest(kind: NestingKindName, levels: number, leaf: unknown = "leaf"): unknown {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = nestingKinds[kind].wrap(value);
  return value;
}

/** How many containers of `kind` are stacked at the top of `value`, and what is inside them. */
export function levelsOf(kind: NestingKindName, value: unknown): { levels: number; leaf: unknown } {
  let levels = 0;
  for (let inner = nestingKinds[kind].unwrap(value); inner !== notThisKind; inner = nestingKinds[kind].unwrap(value)) {
    value = inner;
    levels++;
  }
  return { levels, leaf: value };
}

/** Encoded text of `levels` containers of one kind around the encoded `leaf`, written by hand. */
export function craft(kind: NestingKindName, levels: number, leaf = '"leaf"'): string {
  return nestingKinds[kind].open.repeat(levels) + leaf + nestingKinds[kind].close.repeat(levels);
}

/** The path a SnapshotSerializationError names for the container after `levels` of one kind, behind `prefix`. */
export function pathThrough(kind: NestingKindName, levels: number, prefix = ""): string {
  const path = prefix + nestingKinds[kind].segment.repeat(levels);
  return path.startsWith(".") ? path.slice(1) : path;
}
