// Plain JSON in the snapshot codec: what each side hands straight to the native JSON functions,
// and the nesting limit both sides hold to.

/**
 * How many containers (plain objects, arrays, Maps, Sets, Errors through `cause`) may nest, the
 * outermost one included. Encode refuses more and decode rejects more, so the recursive walks on
 * both sides stay within a small, fixed stack: on Node 20, encoding or decoding the deepest value
 * of any kind takes under 100 KB of it before the code has warmed up (an Error cause chain is the
 * deepest), a sixth of what a worker started with `stackSizeMb: 1` has.
 */
export const maxDepth = 100;

/** True for a number that JSON.stringify writes exactly: a finite one other than -0. */
function isExactNumber(value: number): boolean {
  return Number.isFinite(value) && (value !== 0 || 1 / value > 0);
}

/**
 * True when JSON.stringify alone writes `value` exactly: only strings, finite numbers other than
 * -0, booleans, null, dense arrays and plain objects without a "$wf" key, nesting no deeper than
 * {@link maxDepth} when `value` is at `level`. Reads without allocating, so checking first and
 * letting the native serialiser write is the fast path. A cycle ends at the depth limit, and the
 * walk that then writes the value reports it. The items are checked in the loops, strings first,
 * so that only a nested object costs a call: the walk of a snapshot took a third longer with a
 * call per item.
 */
function isPlainJson(value: object, level: number): boolean {
  if (level > maxDepth) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto === Array.prototype) {
    const array = value as unknown[];
    for (let i = 0; i < array.length; i++) {
      const item = array[i];
      if (typeof item === "string" || typeof item === "boolean") continue;
      // A hole reads as undefined, which neither branch accepts.
      if (typeof item === "number" ? !isExactNumber(item) : typeof item !== "object" || (item !== null && !isPlainJson(item, level + 1))) return false;
    }
    return true;
  }
  if ((proto !== Object.prototype && proto !== null) || Object.hasOwn(value, "$wf")) return false;
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (typeof item === "string" || typeof item === "boolean") continue;
    if (typeof item === "number" ? !isExactNumber(item) : typeof item !== "object" || (item !== null && !isPlainJson(item, level + 1))) return false;
  }
  return true;
}

/** {@link isPlainJson}, and false where a getter throws: the walk that writes reads it again and reports it with its path. */
export function plainJson(value: object, level: number): boolean {
  try {
    return isPlainJson(value, level);
  } catch {
    return false;
  }
}

// for-in rather than Object.keys: parsed JSON has no inherited keys to meet, and it allocates nothing.
function nestsWithin(value: object, level: number): boolean {
  if (level > maxDepth) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === "object" && item !== null && !nestsWithin(item, level + 1)) return false;
    }
    return true;
  }
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (typeof item === "object" && item !== null && !nestsWithin(item, level + 1)) return false;
  }
  return true;
}

// Each level opens with a bracket, so a text with at most maxDepth of them, in strings or not, is
// within the limit. indexOf finds them natively: on a snapshot of a few dozen values this costs a
// fraction of the walk above, which then only runs for texts with more containers than levels allowed.
function fewBrackets(text: string): boolean {
  let count = 0;
  for (let i = text.indexOf("{"); i !== -1; i = text.indexOf("{", i + 1)) if (++count > maxDepth) return false;
  for (let i = text.indexOf("["); i !== -1; i = text.indexOf("[", i + 1)) if (++count > maxDepth) return false;
  return true;
}

/** True when `value`, which JSON.parse made of `text`, nests no deeper than {@link maxDepth}. */
export function parsedWithinDepth(value: unknown, text: string): boolean {
  if (fewBrackets(text) || typeof value !== "object" || value === null) return true;
  return nestsWithin(value, 1);
}
