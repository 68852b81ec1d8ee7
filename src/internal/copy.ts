/**
 * Copies plain objects and arrays all the way down. Any other object goes through `copyOther`,
 * which by default keeps it by reference: the foundry's property bag may legitimately hold class
 * instances or clients that cannot be copied.
 */
export function copyPlain<T>(value: T, copyOther: (value: object) => unknown = (other) => other): T {
  return copyValue(value, copyOther, inheritsEnumerable());
}

type CopyOther = (value: object) => unknown;

// for-in walks an object's cached keys where Object.keys allocates an array per object, which
// made a snapshot's copy take twice as long. But for-in also visits enumerable properties that
// someone added to Object.prototype (and would read them, getters included): then Object.keys it is.
function inheritsEnumerable(): boolean {
  for (const _ in Object.prototype) return true;
  return false;
}

function copyValue<T>(value: T, copyOther: CopyOther, ownKeysOnly: boolean): T {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map((item: unknown) => copyValue(item, copyOther, ownKeysOnly)) as T;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return copyOther(value) as T;
  // Spread clones the object's shape in one step and defines "__proto__" as an own property
  // (it never calls the setter); only nested objects need a second look.
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  if (ownKeysOnly) {
    for (const key of Object.keys(copy)) copyNested(copy, key, copyOther, ownKeysOnly);
  } else {
    for (const key in copy) copyNested(copy, key, copyOther, ownKeysOnly);
  }
  return copy as T;
}

function copyNested(copy: Record<string, unknown>, key: string, copyOther: CopyOther, ownKeysOnly: boolean): void {
  const item = copy[key];
  if (typeof item !== "object" || item === null) return;
  const copied = copyValue(item, copyOther, ownKeysOnly);
  if (key === "__proto__") Object.defineProperty(copy, key, { value: copied, writable: true, enumerable: true, configurable: true });
  else copy[key] = copied;
}
