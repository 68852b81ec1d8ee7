/**
 * Copies stored properties over a foundry's. defineProperty creates own data properties, so keys
 * such as "__proto__" never reach a prototype.
 *
 * `replace`, for a foundry that ran before (a retry on the same foundry): keys the stored bag does
 * not hold are removed first. They are what the failed run added after its last checkpoint, which a
 * crash would have lost (SPEC §5.6). A new foundry keeps its initial properties under the stored ones.
 */
export function restoreProperties(target: Record<string, unknown>, source: Readonly<Record<string, unknown>>, replace = false): void {
  if (replace) for (const key of Object.keys(target)) if (!Object.hasOwn(source, key)) Reflect.deleteProperty(target, key);
  for (const key of Object.keys(source)) {
    Object.defineProperty(target, key, { value: source[key], writable: true, enumerable: true, configurable: true });
  }
}
