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
