import type { Foundry } from "./foundry.js";

/** What a scoped view answers for itself rather than the foundry. */
export interface FoundryScope {
  readonly idempotencyKey: (suffix?: string) => string;
  /** The operation the view's code runs for, when it is not the run's current one (a restore's). */
  readonly currentOperation?: { readonly name: string; readonly index: number };
}

/**
 * The foundry as code that runs for one operation, or one part of it, sees it: the same foundry
 * (its properties, logger and methods), whose `idempotencyKey(suffix?)` is the scope's. A `restore`
 * gets its operation's key, not the key of whatever operation runs meanwhile (a timed-out one that
 * went on), and each `forEach` child its own, so that children sending one payment or email each
 * never share a key an external system deduplicates them by. It is not `===` the foundry.
 */
export function scopedFoundry<F extends Foundry<any>>(foundry: F, scope: FoundryScope): F {
  return new Proxy(foundry, {
    get(target, property) {
      if (property === "idempotencyKey") return scope.idempotencyKey;
      if (property === "currentOperation" && scope.currentOperation !== undefined) return scope.currentOperation;
      const value: unknown = Reflect.get(target, property, target);
      // The foundry's methods read its private state: called on the foundry itself, never on the proxy.
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
