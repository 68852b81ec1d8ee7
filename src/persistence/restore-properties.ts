import { messageOf } from "../internal/thrown.js";
import { SnapshotCorruptedError } from "./errors.js";
import type { WorkflowExecutionSnapshot } from "./snapshot.js";

// Foundries whose property bag a run has used: restored into, or run with. Their bag holds what
// those runs left, where a new foundry's holds only its initial properties.
const usedBags = new WeakSet<object>();

/** A run opened on `foundry`: its operations may change the bag from now on. */
export function markBagUsed(foundry: object): void {
  usedBags.add(foundry);
}

/**
 * Copies stored properties over a foundry's. defineProperty creates own data properties, so keys
 * such as "__proto__" never reach a prototype. Throws what reading `source` throws, changing nothing.
 *
 * On a foundry a run used before (a retry on the same foundry), keys the stored bag does not hold
 * are removed first: they are what that run added after its last checkpoint, which a crash would
 * have lost (SPEC §5.6). A new foundry keeps its initial properties under the stored ones.
 */
export function restoreProperties(foundry: { readonly properties: object }, source: Readonly<Record<string, unknown>>): void {
  // Read whole before the bag changes: a getter or Proxy trap of the stored bag that throws leaves it as it was.
  const entries = Object.entries(source);
  const target = foundry.properties as Record<string, unknown>;
  if (usedBags.has(foundry)) {
    const stored = new Set(entries.map(([key]) => key));
    for (const key of Object.keys(target)) if (!stored.has(key)) Reflect.deleteProperty(target, key);
  }
  // Counted from here: whatever fails after the restore, the bag holds the stored properties.
  markBagUsed(foundry);
  for (const [key, value] of entries) {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  }
}

/**
 * {@link restoreProperties} of a loaded snapshot's: a bag that cannot be read (a getter or a Proxy
 * trap that throws) is a corrupted record, reported before any operation, and nothing is restored.
 */
export function restoreFrom(foundry: { readonly properties: object }, snapshot: WorkflowExecutionSnapshot): void {
  try {
    restoreProperties(foundry, snapshot.properties);
  } catch (error) {
    const { foundryExecutionId, workflowId } = snapshot;
    throw new SnapshotCorruptedError({ foundryExecutionId, workflowId }, `its properties cannot be read: ${messageOf(error)}`, error);
  }
}
