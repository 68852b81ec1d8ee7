// The value layer of the snapshot codec, decoding side: JSON.parse, then one walk that turns
// tagged objects back into the values they stand for.
import { MalformedValue, binaryTypes, fromBase64, runtimeBuffer, type BinaryTypeName } from "./binary.js";
import { maxDepth, parsedWithinDepth } from "./plain.js";

function text(tag: Record<string, unknown>, name: string): string {
  const value = tag[name];
  if (typeof value !== "string") throw new MalformedValue(`"${String(tag.$wf)}" tag without a valid "${name}"`);
  return value;
}

function list(tag: Record<string, unknown>): unknown[] {
  const value: unknown = tag.v;
  if (!Array.isArray(value)) throw new MalformedValue(`"${String(tag.$wf)}" tag without a list`);
  return value;
}

function pair(entry: unknown, level: number): [unknown, unknown] {
  if (!Array.isArray(entry) || entry.length !== 2) throw new MalformedValue("an entry is not a [key, value] pair");
  return [revive(entry[0], level), revive(entry[1], level)];
}

const tooDeep = `it nests deeper than ${maxDepth} levels, which the encoder never writes`;

/** The level of a container inside one at `level`; deeper than the encoder writes is malformed. */
function inside(level: number): number {
  if (level >= maxDepth) throw new MalformedValue(tooDeep);
  return level + 1;
}

const numbers = new Map<unknown, number>([
  ["NaN", NaN],
  ["Infinity", Infinity],
  ["-Infinity", -Infinity],
  ["-0", -0],
]);

const errorTypes = new Map<unknown, ErrorConstructor>([
  ["Error", Error],
  ["TypeError", TypeError],
  ["RangeError", RangeError],
  ["SyntaxError", SyntaxError],
  ["ReferenceError", ReferenceError],
  ["EvalError", EvalError],
  ["URIError", URIError],
]);

function hidden(value: unknown): PropertyDescriptor {
  return { value, writable: true, enumerable: false, configurable: true };
}

// Built-in error names come back as their class; any other name (a subclass) as an Error whose
// own `name` says what it was.
function reviveError(tag: Record<string, unknown>, level: number): Error {
  const name = text(tag, "name");
  const message = text(tag, "message");
  const Type = errorTypes.get(name) ?? Error;
  const error = Object.hasOwn(tag, "cause") ? new Type(message, { cause: revive(tag.cause, level) }) : new Type(message);
  if (error.name !== name) Object.defineProperty(error, "name", hidden(name));
  const stack: unknown = tag.stack;
  if (stack !== undefined && typeof stack !== "string") throw new MalformedValue('"err" tag with an invalid "stack"');
  Object.defineProperty(error, "stack", hidden(stack));
  return error;
}

type BinaryType = (new (buffer: ArrayBuffer) => ArrayBufferView) & { readonly BYTES_PER_ELEMENT?: number };

function reviveBinary(tag: Record<string, unknown>): ArrayBufferView {
  const name = text(tag, "t") as BinaryTypeName;
  const bytes = fromBase64(text(tag, "v"));
  if (name === "Buffer") return runtimeBuffer()?.from(bytes.buffer) ?? bytes;
  // One signature for the whole family: each of them is built over an ArrayBuffer.
  const Type = (Object.hasOwn(binaryTypes, name) ? binaryTypes[name] : undefined) as BinaryType | undefined;
  if (Type === undefined) throw new MalformedValue(`unknown binary type "${name}"`);
  if (bytes.length % (Type.BYTES_PER_ELEMENT ?? 1) !== 0) throw new MalformedValue(`${name} of ${bytes.length} bytes`);
  return new Type(bytes.buffer);
}

function reviveEscaped(tag: Record<string, unknown>, level: number): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const entry of list(tag)) {
    const [key, value] = pair(entry, level);
    if (typeof key !== "string") throw new MalformedValue("an object key is not a string");
    // defineProperty, not assignment: a "__proto__" key must stay an own property.
    Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
  }
  return record;
}

// `depth` is the level of the container around the tag: Maps, Sets, Errors and escaped objects
// are containers themselves, the other tags are leaves.
function reviveTag(tag: Record<string, unknown>, depth: number): unknown {
  const kind = tag.$wf;
  switch (kind) {
    case "undef":
      return undefined;
    case "num":
      if (!numbers.has(tag.v)) throw new MalformedValue('"num" tag with an invalid value');
      return numbers.get(tag.v);
    case "bigint": {
      const digits = text(tag, "v");
      if (!/^-?\d+$/.test(digits)) throw new MalformedValue('"bigint" tag with an invalid value');
      return BigInt(digits);
    }
    case "date": {
      if (tag.v === null) return new Date(NaN);
      const date = new Date(text(tag, "v"));
      if (Number.isNaN(date.getTime())) throw new MalformedValue('"date" tag with an invalid value');
      return date;
    }
    case "re":
      return new RegExp(text(tag, "source"), text(tag, "flags"));
    case "map": {
      const level = inside(depth);
      return new Map(list(tag).map((entry) => pair(entry, level)));
    }
    case "set": {
      const level = inside(depth);
      return new Set(list(tag).map((item) => revive(item, level)));
    }
    case "err":
      return reviveError(tag, inside(depth));
    case "bytes":
      return reviveBinary(tag);
    case "ab":
      return fromBase64(text(tag, "v")).buffer;
    case "obj":
      return reviveEscaped(tag, inside(depth));
    default:
      throw new MalformedValue(`unknown tag ${JSON.stringify(kind)}`);
  }
}

/**
 * Turns parsed JSON back into the encoded value, in place where nothing changes. `depth` is the
 * level of the container holding `value`, 0 for the outermost value.
 */
function revive(value: unknown, depth: number): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const level = inside(depth);
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === "object" && item !== null) {
        const revived = revive(item, level);
        if (revived !== item) value[i] = revived;
      }
    }
    return value;
  }
  const record = value as Record<string, unknown>;
  if (Object.hasOwn(record, "$wf")) return reviveTag(record, depth);
  const level = inside(depth);
  for (const key of Object.keys(record)) {
    const item = record[key];
    if (typeof item === "object" && item !== null) {
      const revived = revive(item, level);
      if (revived === item) continue;
      // JSON.parse made every key an own data property, so assignment only replaces the value;
      // "__proto__" is redefined all the same, so that its safety never rests on that alone.
      if (key === "__proto__") Object.defineProperty(record, key, { value: revived, writable: true, enumerable: true, configurable: true });
      else record[key] = revived;
    }
  }
  return record;
}

/**
 * Parses what `writeValue` wrote. Throws SyntaxError or {@link MalformedValue} when it is not that,
 * one that nests deeper than the encoder writes included. JSON.parse itself does not recurse, so
 * only the walks here could run out of stack, and both stop at the depth limit.
 */
export function readValue(text: string): unknown {
  const parsed: unknown = JSON.parse(text);
  // Every tag is written as {"$wf":...}, so text without `$wf"` has none. Searched from the rare
  // "$" rather than the common quote, which makes the check 20 times cheaper; a string that ends
  // in "$wf" also matches, and only costs the walk.
  if (text.includes('$wf"')) return revive(parsed, 0);
  if (!parsedWithinDepth(parsed, text)) throw new MalformedValue(tooDeep);
  return parsed;
}
