import { copyPlain } from "./copy.js";

// A typed array's copy, of its own type. Buffer.from for a Buffer: its constructor is deprecated.
function copyView(view: ArrayBufferView): ArrayBufferView {
  if (Buffer.isBuffer(view)) return Buffer.from(view);
  return new (view.constructor as new (source: ArrayBufferView) => ArrayBufferView)(view);
}

/**
 * A foundry's initial properties, copied so that later changes to the caller's objects never reach
 * the foundry: plain objects and arrays all the way down, and the built-in values a snapshot stores
 * (Map, Set, Date, typed arrays), a Map's values copied the same way. A Map's keys and a Set's
 * members stay as they are, since they are found by identity; class instances and clients are shared.
 * Throws TypeError, naming the foundry, for properties nested too deeply to copy.
 */
export function copyProperties<P extends object>(name: string, properties: P | undefined): P {
  // Each built-in value is copied once, so that a Map holding itself stays a cycle.
  const copies = new Map<object, unknown>();
  const copyBuiltIn = (value: object): unknown => {
    if (copies.has(value)) return copies.get(value);
    if (value instanceof Map) {
      const copy = new Map<unknown, unknown>();
      copies.set(value, copy);
      for (const [key, item] of value as Map<unknown, unknown>) copy.set(key, copyPlain(item, copyBuiltIn));
      return copy;
    }
    const copy = value instanceof Set ? new Set(value) : value instanceof Date ? new Date(value.getTime()) : ArrayBuffer.isView(value) && !(value instanceof DataView) ? copyView(value) : value;
    copies.set(value, copy);
    return copy;
  };
  try {
    return copyPlain({ ...properties }, copyBuiltIn) as P;
  } catch (error) {
    // A stack overflow: the copy recurses once per level of nesting.
    if (error instanceof RangeError) throw new TypeError(`createFoundry("${name}", init): init.properties nests too deeply to copy (${error.message})`, { cause: error });
    throw error;
  }
}
