// Foundries whose property bag a run has used: restored into, or run with. Their bag holds what
// those runs left, where a new foundry's holds only its initial properties.
const usedBags = new WeakSet<object>();

/** A run opened on `foundry`: its operations may change the bag from now on. */
export function markBagUsed(foundry: object): void {
  usedBags.add(foundry);
}

/**
 * Copies stored properties over a foundry's. defineProperty creates own data properties, so keys
 * such as "__proto__" never reach a prototype.
 *
 * On a foundry a run used before (a retry on the same foundry), keys the stored bag does not hold
 * are removed first: they are what that run added after its last checkpoint, which a crash would
 * have lost (SPEC §5.6). A new foundry keeps its initial properties under the stored ones.
 */
export function restoreProperties(foundry: { readonly properties: object }, source: Readonly<Record<string, unknown>>): void {
  const target = foundry.properties as Record<string, unknown>;
  if (usedBags.has(foundry)) for (const key of Object.keys(target)) if (!Object.hasOwn(source, key)) Reflect.deleteProperty(target, key);
  // Counted from here: whatever fails after the restore, the bag holds the stored properties.
  markBagUsed(foundry);
  for (const key of Object.keys(source)) {
    Object.defineProperty(target, key, { value: source[key], writable: true, enumerable: true, configurable: true });
  }
}
