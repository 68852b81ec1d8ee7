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

export function requireNonNegativeInteger(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new TypeError(`${what} must be a non-negative integer, got ${describe(value)}`);
  }
  return value;
}

export function requirePositiveInteger(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new TypeError(`${what} must be a positive integer, got ${describe(value)}`);
  }
  return value;
}

export function requirePositiveNumber(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`${what} must be a positive finite number, got ${describe(value)}`);
  }
  return value;
}

export function requireNonNegativeNumber(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`${what} must be a non-negative finite number, got ${describe(value)}`);
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

export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return typeof value;
}
