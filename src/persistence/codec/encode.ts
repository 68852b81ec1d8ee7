// The value layer of the snapshot codec, encoding side: JSON text in which ordinary JSON values
// stay as they are and everything else becomes a tagged object {"$wf": "<tag>", ...}.
import { binaryTypes, runtimeBuffer, toBase64 } from "./binary.js";
import { maxDepth, plainJson } from "./plain.js";

/** A problem found during the walk; collects the path while the walk unwinds. */
export class Rejection extends Error {
  readonly segments: string[] = [];

  /** The full path: `prefix` then the collected segments, outermost first. */
  path(prefix: string): string {
    const path = prefix + this.segments.reverse().join("");
    return path.startsWith(".") ? path.slice(1) : path;
  }
}

// No regular expression: the walk gets here from a stack overflow too, and V8 aborts the whole
// process when it compiles one with the stack nearly spent.
function isIdentifier(key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    const letter = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x24;
    if (!letter && (i === 0 || c < 0x30 || c > 0x39)) return false;
  }
  return key !== "";
}

/** `.key` for identifier keys, `["key"]` for any other. */
function propertySegment(key: string): string {
  return isIdentifier(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** How a Map key appears in a path: `<"a">`, `<1>`, `<2n>`, and `<#i>` (the entry's position) for objects. */
function mapKeySegment(key: unknown, index: number): string {
  switch (typeof key) {
    case "string":
      return `<${JSON.stringify(key)}>`;
    case "number":
    case "boolean":
    case "undefined":
      return `<${String(key)}>`;
    case "bigint":
      return `<${key}n>`;
    case "object":
    case "function":
    case "symbol":
      return key === null ? "<null>" : `<#${index}>`;
  }
}

// A rejection passing through as it is; any other throw (a getter that throws, a detached
// typed array) becomes a rejection at this place.
function rejectionOf(error: unknown): Rejection {
  return error instanceof Rejection ? error : new Rejection(`reading it threw: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

// Adds this level's segment to a rejection passing through (see rejectionOf).
function rejectAt(error: unknown, segment: string): Rejection {
  const rejection = rejectionOf(error);
  rejection.segments.push(segment);
  return rejection;
}

/** JSON.stringify for a string; short strings that need no escaping skip the native call's setup. */
function quote(text: string): string {
  if (text.length > 64) return JSON.stringify(text);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(text);
  }
  return `"${text}"`;
}

type Writer = (value: any, seen: Set<object>) => string;

const kinds = new Map<object, Writer>([
  [Date.prototype, (date: Date) => `{"$wf":"date","v":${Number.isNaN(date.getTime()) ? "null" : `"${date.toISOString()}"`}}`],
  [RegExp.prototype, (re: RegExp) => `{"$wf":"re","source":${JSON.stringify(re.source)},"flags":${JSON.stringify(re.flags)}}`],
  [Map.prototype, writeMap],
  [Set.prototype, writeSet],
  [ArrayBuffer.prototype, (buffer: ArrayBuffer) => `{"$wf":"ab","v":"${toBase64(new Uint8Array(buffer))}"}`],
]);
for (const [name, type] of Object.entries(binaryTypes)) kinds.set(type.prototype, (view: ArrayBufferView) => writeBinary(name, view));
const buffer = runtimeBuffer();
if (buffer !== undefined) kinds.set(buffer.prototype, (view: ArrayBufferView) => writeBinary("Buffer", view));

const unstorable = new Map<object, string>([
  [WeakMap.prototype, "a WeakMap cannot be stored"],
  [WeakSet.prototype, "a WeakSet cannot be stored"],
  [WeakRef.prototype, "a WeakRef cannot be stored"],
  [Promise.prototype, "a Promise cannot be stored"],
]);

function writeBinary(name: string, view: ArrayBufferView): string {
  return `{"$wf":"bytes","t":"${name}","v":"${toBase64(new Uint8Array(view.buffer, view.byteOffset, view.byteLength))}"}`;
}

function writeNumber(value: number): string {
  if (Number.isFinite(value) && !Object.is(value, -0)) return String(value);
  return `{"$wf":"num","v":"${Object.is(value, -0) ? "-0" : String(value)}"}`;
}

/** Writes any value; throws a {@link Rejection} for what cannot be stored. */
function write(value: unknown, seen: Set<object>): string {
  switch (typeof value) {
    case "string":
      return quote(value);
    case "number":
      return writeNumber(value);
    case "boolean":
      return value ? "true" : "false";
    case "undefined":
      return '{"$wf":"undef"}';
    case "bigint":
      return `{"$wf":"bigint","v":"${value.toString()}"}`;
    case "object":
      return value === null ? "null" : writeObject(value, seen);
    case "function":
      throw new Rejection("functions cannot be stored");
    case "symbol":
      throw new Rejection("symbols cannot be stored");
  }
}

function writeObject(value: object, seen: Set<object>): string {
  if (seen.has(value)) throw new Rejection("it refers back to an object that contains it (a cycle)");
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto === Object.prototype || proto === null || proto === Array.prototype) {
    // Checked at every level, so the plain siblings of one special value still go the fast way.
    if (plainJson(value, seen.size + 1)) return JSON.stringify(value);
    return proto === Array.prototype ? writeArray(value as unknown[], seen) : writePlain(value as Record<string, unknown>, seen);
  }
  const writer = kinds.get(proto);
  if (writer !== undefined) return writer(value, seen);
  if (value instanceof Error) return writeError(value, seen);
  const reason = unstorable.get(proto);
  if (reason !== undefined) throw new Rejection(reason);
  throw new Rejection(`${describeInstance(proto)} cannot be stored; store plain data`);
}

// Names the class by its prototype's own constructor: one inherited from further up (an object
// made by Object.create) would name the wrong class, Object most often.
function describeInstance(proto: object): string {
  const own = Object.getOwnPropertyDescriptor(proto, "constructor")?.value as unknown;
  if (typeof own !== "function") return "objects with a custom prototype";
  return `instances of class ${own.name === "" ? "(anonymous)" : own.name}`;
}

// `seen` holds exactly the containers being written around this one, so its size is the depth.
function enter(seen: Set<object>, container: object): void {
  if (seen.size >= maxDepth) throw new Rejection(`it nests deeper than ${maxDepth} levels of objects, arrays, Maps, Sets and Error causes`);
  seen.add(container);
}

function writePlain(record: Record<string, unknown>, seen: Set<object>): string {
  enter(seen, record);
  // An object with its own "$wf" key would read as a tag: store it as a list of entries instead.
  const escaped = Object.hasOwn(record, "$wf");
  // Read before the loop: a Proxy whose ownKeys trap throws fails at this object's own path.
  const keys = Object.keys(record);
  let out = "";
  let key = "";
  try {
    for (key of keys) {
      const item = write(record[key], seen);
      if (out !== "") out += ",";
      out += escaped ? `[${quote(key)},${item}]` : `${quote(key)}:${item}`;
    }
  } catch (error) {
    throw rejectAt(error, propertySegment(key));
  }
  seen.delete(record);
  return escaped ? `{"$wf":"obj","v":[${out}]}` : `{${out}}`;
}

// Holes read as undefined, so a sparse array comes back dense with undefined in its holes.
function writeArray(array: readonly unknown[], seen: Set<object>): string {
  enter(seen, array);
  let out = "[";
  let i = 0;
  try {
    for (; i < array.length; i++) out += (i === 0 ? "" : ",") + write(array[i], seen);
  } catch (error) {
    throw rejectAt(error, `[${i}]`);
  }
  seen.delete(array);
  return out + "]";
}

function writeMap(map: Map<unknown, unknown>, seen: Set<object>): string {
  enter(seen, map);
  let out = "";
  let i = 0;
  for (const [key, item] of map) {
    let pair: string;
    try {
      pair = write(key, seen);
    } catch (error) {
      throw rejectAt(error, `<key #${i}>`);
    }
    try {
      pair = `[${pair},${write(item, seen)}]`;
    } catch (error) {
      throw rejectAt(error, mapKeySegment(key, i));
    }
    out += (i++ === 0 ? "" : ",") + pair;
  }
  seen.delete(map);
  return `{"$wf":"map","v":[${out}]}`;
}

function writeSet(set: Set<unknown>, seen: Set<object>): string {
  enter(seen, set);
  let out = "";
  let i = 0;
  try {
    for (const item of set) out += (i++ === 0 ? "" : ",") + write(item, seen);
  } catch (error) {
    throw rejectAt(error, `<#${i - 1}>`);
  }
  seen.delete(set);
  return `{"$wf":"set","v":[${out}]}`;
}

function writeError(error: Error, seen: Set<object>): string {
  enter(seen, error);
  let out = `{"$wf":"err","name":${JSON.stringify(String(error.name))},"message":${JSON.stringify(String(error.message))}`;
  if (typeof error.stack === "string") out += `,"stack":${JSON.stringify(error.stack)}`;
  if (Object.hasOwn(error, "cause")) {
    try {
      out += `,"cause":${write(error.cause, seen)}`;
    } catch (thrown) {
      throw rejectAt(thrown, ".cause");
    }
  }
  seen.delete(error);
  return out + "}";
}

/**
 * Encodes `value` as JSON text; throws a {@link Rejection} naming what cannot be stored. `within`:
 * how many containers will hold it where it is stored (an event's payload, a snapshot's last output
 * once a wait outputs it: 1), which count towards the depth limit.
 */
export function writeValue(value: unknown, within = 0): string {
  // The common case, a plain bag, needs no cycle bookkeeping at all.
  if (typeof value === "object" && value !== null && plainJson(value, within + 1)) return JSON.stringify(value);
  try {
    return write(value, new Set(Array.from({ length: within }, () => ({}))));
  } catch (error) {
    // The top level fails as a nested value does: a detached typed array alone is a rejection too.
    throw rejectionOf(error);
  }
}
