/**
 * Copies plain objects and arrays all the way down. Any other object goes through `copyOther`,
 * which by default keeps it by reference: the foundry's property bag may legitimately hold class
 * instances or clients that cannot be copied.
 */
export function copyPlain<T>(value: T, copyOther: (value: object) => unknown = (other) => other): T {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map((item: unknown) => copyPlain(item, copyOther)) as T;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return copyOther(value) as T;
  // Spread clones the object's shape in one step and defines "__proto__" as an own property
  // (it never calls the setter); only nested objects need a second look. for-in walks the shape's
  // cached keys where Object.keys would allocate an array per object, twice as slow on a snapshot;
  // it also visits enumerable properties inherited from a polluted Object.prototype, which hasOwn skips.
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const key in copy) {
    const item = copy[key];
    if (typeof item !== "object" || item === null || !Object.hasOwn(copy, key)) continue;
    const copied = copyPlain(item, copyOther);
    if (key === "__proto__") Object.defineProperty(copy, key, { value: copied, writable: true, enumerable: true, configurable: true });
    else copy[key] = copied;
  }
  return copy as T;
}
