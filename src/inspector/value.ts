// A decoded value as a JSON tree that keeps its type: the codec restores Dates, Maps, Sets,
// BigInts, typed arrays, errors and undefined, which plain JSON would flatten. The page shows each
// node as what it is. Bounded, so one huge property cannot stall the page: per collection, per
// string, in depth, and in all (a budget that one answer's values share); cycles are named.

/** A decoded value as the page receives it: `t` names the type, `v` or the children hold the value. */
export type ValueNode =
  | { readonly t: "string"; readonly v: string; readonly truncated?: number }
  | { readonly t: "number" | "bigint" | "date" | "regexp" | "other"; readonly v: string }
  | { readonly t: "boolean"; readonly v: boolean }
  | { readonly t: "null" | "undefined" | "circular" | "deep" }
  | CutNode
  | ({ readonly t: "array" | "set"; readonly items: ValueNode[]; readonly size: number } & Cut)
  | ({ readonly t: "map"; readonly entries: [ValueNode, ValueNode][]; readonly size: number } & Cut)
  | ({ readonly t: "object"; readonly name: string; readonly entries: [string, ValueNode][]; readonly size: number } & Cut)
  | ({ readonly t: "bytes"; readonly name: string; readonly items: string[]; readonly size: number } & Cut)
  | ErrorNode;

/** A value left out because the answer's budget was spent before it: `of` says what it was (`Array(200)`). */
export interface CutNode {
  readonly t: "cut";
  readonly of: string;
}

/** On a collection: `cut` when its items stop early because the answer's budget was spent (`size` says how many it has). */
export interface Cut {
  readonly cut?: true;
}

/** An Error; `messageTruncated` and `stackTruncated`, when present, are the lengths of the text cut. */
export interface ErrorNode extends Cut {
  readonly t: "error";
  readonly name: string;
  readonly message: string;
  readonly messageTruncated?: number;
  readonly stack?: string;
  readonly stackTruncated?: number;
  readonly cause?: ValueNode;
  readonly fields: [string, ValueNode][];
}

/** What one answer may still describe, shared by every value in it; `cut` once something was left out. */
export interface Budget {
  left: number;
  cut: boolean;
}

const maxDepth = 12;
const maxItems = 200;
const maxString = 20_000;
// The page draws two or three elements per node, and draws them all again at every refresh (2 s).
// 200 arrays of 200 numbers (40,000 nodes, a 2.2 MB answer) blocked it for seconds each time;
// measured in headless Chromium on a loaded 2-core machine, 10,000 nodes block it for 150-300 ms
// per refresh and 5,000 for about 100, which leaves the page answering clicks. Text counts too, a
// node per 200 characters, so that one long string referred to from many places (a provider
// module may return such a value) cannot make an answer of hundreds of megabytes: at most about
// 1,000,000 characters of text in all.
const maxNodes = 5_000;
const charsPerNode = 200;

/** A budget of 5,000 nodes, a string counting one more per 200 characters: one answer's. */
export const answerBudget = (): Budget => ({ left: maxNodes, cut: false });

/**
 * `value` as a {@link ValueNode}: at most 200 items per collection, 20,000 characters per string
 * (an error's message and stack, a key's name and a class name, too), 12 levels deep, and what is
 * left of `budget`, after which collections stop early (`cut`) and values are left out (`t: "cut"`).
 */
export function describeValue(value: unknown, budget: Budget = answerBudget()): ValueNode {
  return node(value, 0, new Set(), budget);
}

function node(value: unknown, depth: number, seen: Set<object>, budget: Budget): ValueNode {
  if (budget.left <= 0) return leftOut(value, budget);
  budget.left -= 1;
  switch (typeof value) {
    case "string":
      spendText(value, budget);
      return value.length <= maxString ? { t: "string", v: value } : { t: "string", v: cut(value), truncated: value.length };
    case "number":
      return { t: "number", v: Object.is(value, -0) ? "-0" : String(value) };
    case "bigint":
      return { t: "bigint", v: value.toString() };
    case "boolean":
      return { t: "boolean", v: value };
    case "undefined":
      return { t: "undefined" };
    case "symbol":
    case "function":
      return { t: "other", v: String(value) };
    case "object":
      if (value === null) return { t: "null" };
      if (seen.has(value)) return { t: "circular" };
      if (depth >= maxDepth) return { t: "deep" };
      seen.add(value);
      try {
        return objectNode(value, (inner) => node(inner, depth + 1, seen, budget), budget);
      } finally {
        seen.delete(value);
      }
  }
}

// A text costs a node per 200 characters of what is sent of it, on top of its own.
function spendText(text: string, budget: Budget): void {
  budget.left -= Math.floor(Math.min(text.length, maxString) / charsPerNode);
}

function leftOut(value: unknown, budget: Budget): CutNode {
  budget.cut = true;
  return { t: "cut", of: whatItIs(value) };
}

// What a value left out was, in a few words and without walking it: its type and size.
function whatItIs(value: unknown): string {
  if (typeof value === "string") return `a string of ${value.length} character${value.length === 1 ? "" : "s"}`;
  if (typeof value !== "object") return typeof value;
  if (value === null) return "null";
  if (Array.isArray(value)) return `Array(${value.length})`;
  if (value instanceof Map || value instanceof Set) return `${value instanceof Map ? "Map" : "Set"}(${value.size})`;
  const prototype: unknown = Object.getPrototypeOf(value);
  // Counting a plain object's keys walks them once, as describing it would have.
  return prototype === Object.prototype || prototype === null ? `an object of ${Object.keys(value).length} keys` : typeName(value);
}

/** The longest class name shown: 5,000 objects of a class named at length stay within about 1 MB. */
const maxTypeName = 200;

/** The first 20,000 characters of `text`, as the page shows any string. */
export const cut = (text: string): string => text.slice(0, maxString);

/** A key (or an id) as the page shows it: text, so a cut one says so in the text. */
export const keyName = (key: string): string => (key.length <= maxString ? key : `${cut(key)}… (${key.length} characters)`);

/** The first 200 of `items`, as every collection the page receives is cut. */
export const first = <T>(items: Iterable<T>): T[] => {
  const result: T[] = [];
  for (const item of items) {
    if (result.length === maxItems) break;
    result.push(item);
  }
  return result;
};

// The first 200 of `items`, described while the budget lasts: `cut` when it ran out first.
function some<T, R>(items: Iterable<T>, describe: (item: T) => R, budget: Budget): [R[], Cut] {
  const described: R[] = [];
  for (const item of first(items)) {
    if (budget.left <= 0) {
      budget.cut = true;
      return [described, { cut: true }];
    }
    described.push(describe(item));
  }
  return [described, {}];
}

/**
 * The first 200 entries of a record, keys as {@link keyName}, values as {@link describeValue}: a
 * record's top level, bounded as a nested object is, except that every one of those 200 keys is
 * listed, a value the budget has no room for as `t: "cut"`.
 */
export function describeEntries(record: Readonly<Record<string, unknown>>, budget: Budget = answerBudget()): [string, ValueNode][] {
  return Object.keys(record)
    .slice(0, maxItems)
    .map((key) => [keyOf(key, budget), describeValue(record[key], budget)]);
}

// A key as keyName shows it, paid for as text.
function keyOf(key: string, budget: Budget): string {
  spendText(key, budget);
  return keyName(key);
}

function objectNode(value: object, child: (value: unknown) => ValueNode, budget: Budget): ValueNode {
  const all = <T, R>(items: Iterable<T>, describe: (item: T) => R): [R[], Cut] => some(items, describe, budget);
  if (value instanceof Date) return { t: "date", v: Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString() };
  if (value instanceof RegExp) return { t: "regexp", v: String(value) };
  if (value instanceof Map) {
    const [entries, cutShort] = all(value.entries(), ([key, inner]): [ValueNode, ValueNode] => [child(key), child(inner)]);
    return { t: "map", size: value.size, entries, ...cutShort };
  }
  if (value instanceof Set) {
    const [items, cutShort] = all(value.values(), child);
    return { t: "set", size: value.size, items, ...cutShort };
  }
  if (Array.isArray(value)) {
    const [items, cutShort] = all(value as unknown[], child);
    return { t: "array", size: value.length, items, ...cutShort };
  }
  if (value instanceof Error) return errorNode(value, child, budget);
  if (value instanceof ArrayBuffer) return bytes("ArrayBuffer", new Uint8Array(value), budget);
  if (value instanceof DataView) return bytes("DataView", new Uint8Array(value.buffer, value.byteOffset, value.byteLength), budget);
  if (ArrayBuffer.isView(value)) return bytes(typeName(value), value as unknown as ArrayLike<number | bigint>, budget);
  const keys = Object.keys(value);
  const record = value as Record<string, unknown>;
  const [entries, cutShort] = all(keys, (key): [string, ValueNode] => [keyOf(key, budget), child(record[key])]);
  return { t: "object", name: typeName(value), size: keys.length, entries, ...cutShort };
}

/**
 * The name of `value`'s class, from its prototype: an own `constructor` key is data (a decoded
 * `{ "constructor": { "name": "Date" } }` is a plain object, not a Date). Only a function's name
 * that is a string counts, cut like any string; a getter that throws, or a proxy, gives "Object".
 */
function typeName(value: object): string {
  try {
    const prototype: unknown = Object.getPrototypeOf(value);
    if (typeof prototype !== "object" || prototype === null) return "Object";
    const constructor: unknown = (prototype as { constructor?: unknown }).constructor;
    const name: unknown = typeof constructor === "function" ? constructor.name : undefined;
    // Cut far shorter than a string: the budget counts an object as one value, whatever its name.
    return typeof name === "string" && name !== "" ? name.slice(0, maxTypeName) : "Object";
  } catch {
    return "Object";
  }
}

// Only the indexes shown: a typed array of millions of items is not copied to show 200.
function bytes(name: string, items: ArrayLike<number | bigint>, budget: Budget): ValueNode {
  const indexes = Array.from({ length: Math.min(items.length, maxItems) }, (_, index) => index);
  const item = (index: number): string => {
    budget.left -= 1;
    return String(items[index]);
  };
  const [shown, cutShort] = some(indexes, item, budget);
  return { t: "bytes", name, size: items.length, items: shown, ...cutShort };
}

function errorNode(error: Error, child: (value: unknown) => ValueNode, budget: Budget): ErrorNode {
  const own = Object.keys(error).filter((key) => key !== "cause" && key !== "stack" && key !== "message" && key !== "name");
  const record = error as unknown as Record<string, unknown>;
  const message = String(error.message);
  const { stack } = error;
  for (const text of [String(error.name), message, typeof stack === "string" ? stack : ""]) spendText(text, budget);
  const [fields, cutShort] = some(own, (key): [string, ValueNode] => [keyOf(key, budget), child(record[key])], budget);
  return {
    t: "error",
    name: cut(String(error.name)),
    message: cut(message),
    ...(message.length > maxString ? { messageTruncated: message.length } : {}),
    ...(typeof stack === "string" ? { stack: cut(stack) } : {}),
    ...(typeof stack === "string" && stack.length > maxString ? { stackTruncated: stack.length } : {}),
    ...("cause" in error ? { cause: child(error.cause) } : {}),
    fields,
    ...cutShort,
  };
}
