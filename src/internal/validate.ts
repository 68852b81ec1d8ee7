// Misuse is reported at the call that made it, as a TypeError naming the argument.

export function requireName(value: unknown, what: string): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new TypeError(`${what} must be a non-empty string, got ${describe(value)}`);
  }
  return value;
}

export function requireFunction(value: unknown, what: string): void {
  if (typeof value !== "function") {
    throw new TypeError(`${what} must be a function, got ${describe(value)}`);
  }
}

export function requireOptionalFunction(value: unknown, what: string): void {
  if (value !== undefined) requireFunction(value, what);
}

// Counts are safe integers: past 2^53 neighbouring integers are the same number.
export function requireNonNegativeInteger(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`${what} must be a non-negative integer up to ${Number.MAX_SAFE_INTEGER}, got ${describe(value)}`);
  }
  return value;
}

export function requirePositiveInteger(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(`${what} must be a positive integer up to ${Number.MAX_SAFE_INTEGER}, got ${describe(value)}`);
  }
  return value;
}

/**
 * The longest delay a Node.js timer keeps (2^31 - 1 ms, about 24.8 days): a longer one fires after
 * 1 ms with a TimeoutOverflowWarning.
 */
export const maxTimerMs = 2_147_483_647;

/** A duration that ends up in a timer: a positive number of milliseconds up to {@link maxTimerMs}. */
export function requireTimerMs(value: unknown, what: string): number {
  if (typeof value !== "number" || !(value > 0 && value <= maxTimerMs)) {
    throw new TypeError(`${what} must be a positive number of milliseconds up to ${maxTimerMs} (about 24.8 days), got ${describe(value)}`);
  }
  return value;
}

// Stored leases have whole milliseconds (ISO 8601) and are renewed every quarter of their TTL: a
// lease of a fraction of a millisecond, or of a few, ends before any save can renew it.
const minLeaseTtlMs = 10;

/** A lease's TTL: a whole number of milliseconds from 10 up to {@link maxTimerMs}. */
export function requireLeaseTtlMs(value: unknown, what: string): number {
  const ttl = requireTimerMs(value, what);
  if (!Number.isInteger(ttl) || ttl < minLeaseTtlMs) throw new TypeError(`${what} must be a whole number of milliseconds, at least ${minLeaseTtlMs}, got ${describe(value)}`);
  return ttl;
}

/** Like {@link requireTimerMs}, but 0 (no wait) is allowed. */
export function requireDelayMs(value: unknown, what: string): number {
  if (typeof value !== "number" || !(value >= 0 && value <= maxTimerMs)) {
    throw new TypeError(`${what} must be a non-negative number of milliseconds up to ${maxTimerMs} (about 24.8 days), got ${describe(value)}`);
  }
  return value;
}

export function requireOptionalBoolean(value: unknown, what: string): void {
  if (value !== undefined && typeof value !== "boolean") {
    throw new TypeError(`${what} must be a boolean, got ${describe(value)}`);
  }
}

export function requireOptionalSignal(value: unknown, what: string): void {
  if (value !== undefined && !(value instanceof AbortSignal)) {
    throw new TypeError(`${what} must be an AbortSignal, got ${describe(value)}`);
  }
}

/** Rejects keys an options bag does not know, so a typo is an error rather than a silent default. */
export function rejectUnknownKeys(options: object, known: readonly string[], what: string): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`${what}: unknown option "${key}" (known: ${known.join(", ")})`);
    }
  }
}

export function requireOptionsObject(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

/**
 * Throws a `TypeError` unless `instance` is an object (its fields are checked by name after): the
 * coordinator's methods take the keys as two arguments, the functions beside it as one object, and
 * keys passed the coordinator's way would otherwise be reported as an `instanceId` of undefined.
 */
export function requireInstanceObject(instance: unknown, what: string): void {
  if (typeof instance !== "object" || instance === null) throw new TypeError(`${what} must be { instanceId, workflowKey }, got ${describe(instance)}`);
}

export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return typeof value;
}

/**
 * Undefined for a plain object (of this realm or another: a vm context's), else what `value` is
 * instead, for a message: "an array", "a Database instance".
 */
export function notPlainObject(value: object): string | undefined {
  const prototype = Object.getPrototypeOf(value) as object | null;
  if (prototype === null || prototype === Object.prototype || (Object.getPrototypeOf(prototype) === null && !Array.isArray(value))) return undefined;
  if (Array.isArray(value)) return "an array";
  const constructorName: unknown = (prototype as { constructor?: { name?: unknown } }).constructor?.name;
  return `a ${typeof constructorName === "string" && constructorName !== "" ? constructorName : "class"} instance`;
}
