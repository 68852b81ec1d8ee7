// JSON for scripts. The codec restores Dates, Maps, Sets, BigInts, typed arrays, errors and
// undefined exactly; JSON has none of them, so each becomes its closest plain form (documented in
// the help). A script that needs the exact values should use the library and tryLoad instead.

function plain(value: unknown): unknown {
  switch (typeof value) {
    case "bigint":
      return value.toString();
    case "undefined":
      return null;
    case "number":
      // JSON would print null for these; the name says more.
      return Number.isFinite(value) ? value : String(value);
    case "object":
      return value === null ? null : plainObject(value);
    case "function":
    case "symbol":
      return String(value);
    case "boolean":
    case "string":
      return value;
  }
}

function plainObject(value: object): unknown {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Map) return [...value.entries()];
  if (value instanceof Set) return [...value.values()];
  if (value instanceof RegExp) return String(value);
  if (value instanceof Error) return { name: value.name, message: value.message, ...("cause" in value ? { cause: value.cause } : {}) };
  if (value instanceof ArrayBuffer) return [...new Uint8Array(value)];
  if (value instanceof DataView) return [...new Uint8Array(value.buffer, value.byteOffset, value.byteLength)];
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number | bigint>);
  return value;
}

/**
 * `JSON.stringify` that always yields valid JSON: Dates become ISO strings, BigInts decimal
 * strings, Maps arrays of [key, value] pairs, Sets and typed arrays arrays, errors
 * `{ name, message }`, undefined null, NaN and Infinity their names.
 */
export function toJson(value: unknown): string {
  // Read the holder's own value: toJSON (Date, Buffer) has already run on `value` by now.
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string) {
    return plain(this[key]);
  }, 2);
}
