import { copyPlain } from "./copy.js";
import { notPlainObject } from "./validate.js";

// The prototypes of the typed arrays a snapshot stores, Buffer's among them: a subclass is a class
// of the user's, shared as any other.
const typedArrayPrototypes: ReadonlySet<object> = new Set<object>([
  Int8Array.prototype, Uint8Array.prototype, Uint8ClampedArray.prototype, Int16Array.prototype, Uint16Array.prototype, Int32Array.prototype,
  Uint32Array.prototype, Float32Array.prototype, Float64Array.prototype, BigInt64Array.prototype, BigUint64Array.prototype, Buffer.prototype,
]);

// Whether `value` really is the built-in its prototype says: a Proxy around one has the prototype
// but not the internals, and the built-in's methods refuse it.
function branded(check: () => unknown): boolean {
  try {
    check();
    return true;
  } catch {
    return false;
  }
}

/**
 * The copy of a built-in value a snapshot stores (Map, Set, Date, typed array), or undefined for
 * any other object: a subclass, a Proxy, a view of shared memory (which exists to be shared).
 * A Map's values go through `copyItem`, after `remember` has its copy (so that a Map holding itself
 * holds its copy); its keys and a Set's members are kept, found by identity.
 */
function copyBuiltIn(value: object, copyItem: (item: unknown) => unknown, remember: (copy: object) => void): object | undefined {
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype === Map.prototype && branded(() => Map.prototype.has.call(value, undefined))) {
    const copy = new Map<unknown, unknown>();
    remember(copy);
    for (const [key, item] of value as Map<unknown, unknown>) copy.set(key, copyItem(item));
    return copy;
  }
  if (prototype === Set.prototype && branded(() => Set.prototype.has.call(value, undefined))) return new Set(value as Set<unknown>);
  if (prototype === Date.prototype && branded(() => Date.prototype.getTime.call(value))) return new Date((value as Date).getTime());
  if (typedArrayPrototypes.has(prototype as object) && ArrayBuffer.isView(value) && !(value.buffer instanceof SharedArrayBuffer)) {
    // Buffer.from for a Buffer: its constructor is deprecated.
    return Buffer.isBuffer(value) ? Buffer.from(value) : new (value.constructor as new (source: ArrayBufferView) => ArrayBufferView)(value);
  }
  return undefined;
}

/**
 * Throws TypeError unless `properties` is a plain object of named properties: a Map's entries, an
 * array's items or a class instance's prototype would be lost to the copy (and to a snapshot) without a word.
 */
export function requirePlainBag(properties: unknown): void {
  const what = "createFoundry(name, init).properties";
  if (typeof properties !== "object" || properties === null) throw new TypeError(`${what} must be an object`);
  const kind = notPlainObject(properties);
  if (kind !== undefined) throw new TypeError(`${what} must be a plain object of named properties, got ${kind}: put it under a key ({ items: ... })`);
}

/**
 * A foundry's initial properties, copied so that later changes to the caller's objects never reach
 * the foundry: plain objects and arrays all the way down, and the built-in values a snapshot stores
 * (see copyBuiltIn). Class instances, clients and anything else are shared. Throws TypeError, naming
 * the foundry, for properties nested too deeply to copy.
 */
export function copyProperties<P extends object>(name: string, properties: P | undefined): P {
  // Each built-in value is copied once, so that a Map holding itself stays a cycle.
  const copies = new Map<object, unknown>();
  const copyOther = (value: object): unknown => {
    if (copies.has(value)) return copies.get(value);
    const copy = copyBuiltIn(value, (item) => copyPlain(item, copyOther), (made) => copies.set(value, made)) ?? value;
    copies.set(value, copy);
    return copy;
  };
  try {
    return copyPlain({ ...properties }, copyOther) as P;
  } catch (error) {
    // The copy recurses once per level of nesting: too deep, and the stack runs out.
    if (error instanceof RangeError && /call stack/i.test(error.message)) throw new TypeError(`createFoundry("${name}", init): init.properties nests too deeply to copy (${error.message})`, { cause: error });
    throw error;
  }
}
