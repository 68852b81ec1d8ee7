import type { Foundry } from "../foundry.js";
import { childIdempotencyKey } from "../idempotency.js";

/**
 * The foundry a child of a concurrent operation (a `forEach` child) runs and restores with: the
 * same foundry, whose `idempotencyKey(suffix?)` names the child, so that children sending one
 * payment or email each never share a key an external system would deduplicate them by.
 */
export function childFoundry<F extends Foundry<any>>(foundry: F, childIndex: number): F {
  const idempotencyKey = (suffix?: string): string => childIdempotencyKey(foundry.idempotencyKey(), childIndex, suffix);
  return new Proxy(foundry, {
    get(target, property) {
      if (property === "idempotencyKey") return idempotencyKey;
      const value: unknown = Reflect.get(target, property, target);
      // The foundry's methods read its private state: called on the foundry itself, never on the proxy.
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
