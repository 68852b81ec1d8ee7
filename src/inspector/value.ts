// A decoded value as a JSON tree that keeps its type: the codec restores Dates, Maps, Sets,
// BigInts, typed arrays, errors and undefined, which plain JSON would flatten. The page shows each
// node as what it is. Bounded, so one huge property cannot stall the page; cycles are named.

/** A decoded value as the page receives it: `t` names the type, `v` or the children hold the value. */
export type ValueNode =
  | { readonly t: "string"; readonly v: string; readonly truncated?: number }
  | { readonly t: "number" | "bigint" | "date" | "regexp" | "other"; readonly v: string }
  | { readonly t: "boolean"; readonly v: boolean }
  | { readonly t: "null" | "undefined" | "circular" | "deep" }
  | { readonly t: "array" | "set"; readonly items: ValueNode[]; readonly size: number }
  | { readonly t: "map"; readonly entries: [ValueNode, ValueNode][]; readonly size: number }
  | { readonly t: "object"; readonly name: string; readonly entries: [string, ValueNode][]; readonly size: number }
  | { readonly t: "bytes"; readonly name: string; readonly items: string[]; readonly size: number }
  | ErrorNode;

/** An Error; `messageTruncated` and `stackTruncated`, when present, are the lengths of the text cut. */
export interface ErrorNode {
  readonly t: "error";
  readonly name: string;
  readonly message: string;
  readonly messageTruncated?: number;
  readonly stack?: string;
  readonly stackTruncated?: number;
  readonly cause?: ValueNode;
  readonly fields: [string, ValueNode][];
}

const maxDepth = 12;
const maxItems = 200;
const maxString = 20_000;

/**
 * `value` as a {@link ValueNode}: at most 200 items per collection, 20,000 characters per string
 * (an error's message and stack, and a key's name, too), 12 levels deep.
 */
export function describeValue(value: unknown): ValueNode {
  return node(value, 0, new Set());
}

function node(value: unknown, depth: number, seen: Set<object>): ValueNode {
  switch (typeof value) {
    case "string":
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
        return objectNode(value, depth + 1, seen);
      } finally {
        seen.delete(value);
      }
  }
}

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

/**
 * The first 200 entries of a record, keys as {@link keyName}, values as {@link describeValue}: a
 * record's top level, bounded as a nested object is.
 */
export function describeEntries(record: Readonly<Record<string, unknown>>): [string, ValueNode][] {
  return Object.keys(record).slice(0, maxItems).map((key) => [keyName(key), describeValue(record[key])]);
}

function objectNode(value: object, depth: number, seen: Set<object>): ValueNode {
  const child = (inner: unknown): ValueNode => node(inner, depth, seen);
  if (value instanceof Date) return { t: "date", v: Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString() };
  if (value instanceof RegExp) return { t: "regexp", v: String(value) };
  if (value instanceof Map) return { t: "map", size: value.size, entries: first(value.entries()).map(([key, inner]) => [child(key), child(inner)]) };
  if (value instanceof Set) return { t: "set", size: value.size, items: first(value.values()).map(child) };
  if (Array.isArray(value)) return { t: "array", size: value.length, items: first(value as unknown[]).map(child) };
  if (value instanceof Error) return errorNode(value, child);
  if (value instanceof ArrayBuffer) return bytes("ArrayBuffer", new Uint8Array(value));
  if (value instanceof DataView) return bytes("DataView", new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
  if (ArrayBuffer.isView(value)) return bytes(value.constructor.name, value as unknown as ArrayLike<number | bigint>);
  const keys = Object.keys(value);
  const record = value as Record<string, unknown>;
  const name = Object.getPrototypeOf(value) === null ? "Object" : ((value.constructor as { name?: string } | undefined)?.name ?? "Object");
  return { t: "object", name, size: keys.length, entries: keys.slice(0, maxItems).map((key) => [keyName(key), child(record[key])]) };
}

function bytes(name: string, items: ArrayLike<number | bigint>): ValueNode {
  return { t: "bytes", name, size: items.length, items: first(Array.from(items)).map(String) };
}

function errorNode(error: Error, child: (value: unknown) => ValueNode): ErrorNode {
  const own = Object.keys(error).filter((key) => key !== "cause" && key !== "stack" && key !== "message" && key !== "name");
  const record = error as unknown as Record<string, unknown>;
  const message = String(error.message);
  const { stack } = error;
  return {
    t: "error",
    name: cut(String(error.name)),
    message: cut(message),
    ...(message.length > maxString ? { messageTruncated: message.length } : {}),
    ...(typeof stack === "string" ? { stack: cut(stack) } : {}),
    ...(typeof stack === "string" && stack.length > maxString ? { stackTruncated: stack.length } : {}),
    ...("cause" in error ? { cause: child(error.cause) } : {}),
    fields: own.slice(0, maxItems).map((key) => [keyName(key), child(record[key])]),
  };
}
