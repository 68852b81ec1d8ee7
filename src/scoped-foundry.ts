import type { Foundry } from "./foundry.js";

/**
 * The foundry as code that runs for one operation, or one part of it, sees it: the same foundry,
 * whose `idempotencyKey(suffix?)` is `idempotencyKey`. A `restore` gets its operation's key (not the
 * key of whatever operation runs meanwhile), and each `forEach` child its own, so that children
 * sending one payment or email each never share a key an external system deduplicates them by.
 */
export function scopedFoundry<F extends Foundry<any>>(foundry: F, idempotencyKey: (suffix?: string) => string): F {
  return new Proxy(foundry, {
    get(target, property) {
      if (property === "idempotencyKey") return idempotencyKey;
      const value: unknown = Reflect.get(target, property, target);
      // The foundry's methods read its private state: called on the foundry itself, never on the proxy.
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
