import { copyPlain } from "../internal/copy.js";

/**
 * A deep copy for stored snapshots. Plain objects and arrays are copied by hand (several times
 * faster than `structuredClone` for the small bags most workflows carry); anything else goes through
 * `structuredClone`, which also rejects what cannot be stored.
 */
export function deepCopy<T>(value: T): T {
  // structuredClone only sees objects here; a function or symbol would otherwise be kept as is.
  if (typeof value === "function" || typeof value === "symbol") return structuredClone(value);
  return copyPlain(value, (other) => structuredClone(other));
}

/**
 * A copy that later changes to nested values cannot reach, for properties kept aside; values
 * `deepCopy` refuses (a function, which only the memory provider's live mode stores) fall back to a
 * shallow copy.
 */
export function copyOrShallow(properties: Record<string, unknown>): Record<string, unknown> {
  try {
    return deepCopy(properties);
  } catch {
    return { ...properties };
  }
}
