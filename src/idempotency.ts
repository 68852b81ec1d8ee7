import { describe } from "./internal/validate.js";
import type { InstanceIdentity } from "./types.js";

export type { InstanceIdentity };

/**
 * The idempotency key of operation `operationIndex` of an instance: the value
 * `foundry.idempotencyKey(suffix)` returns inside that operation, on every re-execution. Use it to
 * compute the same key outside a run, for example in the service that receives it.
 *
 * Each part is percent-encoded (`encodeURIComponent`), so the parts never run into each other; a
 * lone UTF-16 surrogate, which `encodeURIComponent` refuses, is written `%uD800`. Throws
 * `TypeError` when a part is not a string or `operationIndex` is not a non-negative integer.
 */
export function idempotencyKeyOf(identity: InstanceIdentity, operationIndex: number, suffix?: string): string {
  const what = "idempotencyKeyOf(identity, operationIndex, suffix)";
  if (!Number.isInteger(operationIndex) || operationIndex < 0) {
    throw new TypeError(`${what}: operationIndex must be a non-negative integer, got ${String(operationIndex)}`);
  }
  if (typeof identity !== "object" || identity === null) throw new TypeError(`${what}: identity must be an object { instanceId, workflowKey }, got ${describe(identity)}`);
  const { instanceId, workflowKey } = identity;
  const parts = { "identity.instanceId": instanceId, "identity.workflowKey": workflowKey, suffix: suffix === undefined ? "" : suffix };
  for (const [name, value] of Object.entries(parts)) {
    if (typeof value !== "string") throw new TypeError(`${what}: ${name} must be a string, got ${describe(value)}`);
  }
  const key = `${encodePart(instanceId)}/${encodePart(workflowKey)}/${operationIndex}`;
  return suffix === undefined ? key : `${key}/${encodePart(suffix)}`;
}

/**
 * The idempotency key of child `childIndex` of an operation whose key is `parentKey` (a `forEach`
 * child's): `parentKey/#childIndex`, then `/suffix`. A raw `#` never appears in an encoded suffix,
 * so no key the parent operation makes equals one of its children's.
 */
export function childIdempotencyKey(parentKey: string, childIndex: number, suffix?: string): string {
  if (suffix !== undefined && typeof suffix !== "string") throw new TypeError(`idempotencyKey(suffix): suffix must be a string, got ${describe(suffix)}`);
  const key = `${parentKey}/#${childIndex}`;
  return suffix === undefined ? key : `${key}/${encodePart(suffix)}`;
}

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

// encodeURIComponent throws URIError for a lone surrogate. `%u` never appears in its output (a
// `%` is always followed by two hex digits), so the escape keeps every key distinct, and a
// well-formed string keeps the key it always had.
function encodePart(value: string): string {
  let encoded = "";
  let from = 0;
  for (const match of value.matchAll(loneSurrogate)) {
    const code = value.charCodeAt(match.index).toString(16).toUpperCase();
    encoded += `${encodeURIComponent(value.slice(from, match.index))}%u${code}`;
    from = match.index + 1;
  }
  return from === 0 ? encodeURIComponent(value) : encoded + encodeURIComponent(value.slice(from));
}
