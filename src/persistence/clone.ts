/**
 * A deep copy for stored snapshots. Plain objects and arrays are copied by hand (several times
 * faster than `structuredClone` for the small bags most workflows carry); anything else goes through
 * `structuredClone`, which also rejects what cannot be stored, such as functions.
 */
export function deepCopy<T>(value: T): T {
  if (typeof value !== "object" || value === null) {
    if (typeof value === "function" || typeof value === "symbol") return structuredClone(value);
    return value;
  }
  if (Array.isArray(value)) return value.map(deepCopy) as T;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    // defineProperty keeps a "__proto__" key an own property instead of setting the prototype.
    Object.defineProperty(copy, key, { value: deepCopy((value as Record<string, unknown>)[key]), writable: true, enumerable: true, configurable: true });
  }
  return copy as T;
}
