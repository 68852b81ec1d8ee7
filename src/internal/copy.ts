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
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    // defineProperty keeps a "__proto__" key an own property instead of replacing the prototype.
    const item = copyPlain((value as Record<string, unknown>)[key], copyOther);
    Object.defineProperty(copy, key, { value: item, writable: true, enumerable: true, configurable: true });
  }
  return copy as T;
}
