/**
 * Copies plain objects and arrays all the way down. Any other object goes through `copyOther`,
 * which by default keeps it by reference: the foundry's property bag may legitimately hold class
 * instances or clients that cannot be copied. An object reached twice is copied twice, unless the
 * value holds a cycle or nests deeper than 100 levels: then every object is copied once, and the
 * copy has the same references between its parts (a cycle stays a cycle).
 */
export function copyPlain<T>(value: T, copyOther: (value: object) => unknown = (other) => other): T {
  try {
    return copyValue(value, copyOther, inheritsEnumerable(), 0);
  } catch (error) {
    if (error !== tooDeep) throw error;
    return copyTracked(value, copyOther, new Map());
  }
}

type CopyOther = (value: object) => unknown;

// The fast copy keeps no record of what it has seen, so a cycle would recurse until the stack
// overflows. Past this depth it gives up, and the copy starts over remembering every object.
const fastDepth = 100;
// One instance, made once: it only unwinds the fast copy and never reaches a caller.
const tooDeep = new Error("too deep for the fast copy");

// for-in walks an object's cached keys where Object.keys allocates an array per object, which
// made a snapshot's copy take twice as long. But for-in also visits enumerable properties that
// someone added to Object.prototype (and would read them, getters included): then Object.keys it is.
function inheritsEnumerable(): boolean {
  for (const _ in Object.prototype) return true;
  return false;
}

const isPlain = (value: object): boolean => {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

function copyValue<T>(value: T, copyOther: CopyOther, ownKeysOnly: boolean, depth: number): T {
  if (typeof value !== "object" || value === null) return value;
  if (depth > fastDepth) throw tooDeep;
  if (Array.isArray(value)) return value.map((item: unknown) => copyValue(item, copyOther, ownKeysOnly, depth + 1)) as T;
  if (!isPlain(value)) return copyOther(value) as T;
  // Spread clones the object's shape in one step and defines "__proto__" as an own property
  // (it never calls the setter); only nested objects need a second look. Two spreads: V8 keeps a
  // spread fast while its place in the code meets a few shapes (past four, each costs 3.5× as
  // much), and the outermost objects (snapshots, property bags) are few shapes where what they hold is anything.
  const copy: Record<string, unknown> = depth === 0 ? { ...(value as Record<string, unknown>) } : { ...(value as Record<string, unknown>) };
  if (ownKeysOnly) {
    for (const key of Object.keys(copy)) copyNested(copy, key, copyOther, ownKeysOnly, depth);
  } else {
    for (const key in copy) copyNested(copy, key, copyOther, ownKeysOnly, depth);
  }
  return copy as T;
}

function copyNested(copy: Record<string, unknown>, key: string, copyOther: CopyOther, ownKeysOnly: boolean, depth: number): void {
  const item = copy[key];
  if (typeof item === "object" && item !== null) assign(copy, key, copyValue(item, copyOther, ownKeysOnly, depth + 1));
}

// The slow copy: each object is copied once, and every reference to it gets that copy.
function copyTracked<T>(value: T, copyOther: CopyOther, copies: Map<object, unknown>): T {
  if (typeof value !== "object" || value === null) return value;
  if (copies.has(value)) return copies.get(value) as T;
  if (Array.isArray(value)) {
    const copy = new Array<unknown>(value.length);
    copies.set(value, copy);
    // Holes stay holes, as map() keeps them in the fast copy.
    for (let i = 0; i < value.length; i++) if (i in value) copy[i] = copyTracked(value[i], copyOther, copies);
    return copy as T;
  }
  if (!isPlain(value)) {
    const copy = copyOther(value);
    copies.set(value, copy);
    return copy as T;
  }
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  copies.set(value, copy);
  for (const key of Object.keys(copy)) assign(copy, key, copyTracked(copy[key], copyOther, copies));
  return copy as T;
}

function assign(copy: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(copy, key, { value, writable: true, enumerable: true, configurable: true });
  else copy[key] = value;
}
