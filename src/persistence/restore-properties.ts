/**
 * Copies stored properties over a foundry's. defineProperty creates own data properties, so keys
 * such as "__proto__" never reach a prototype.
 */
export function restoreProperties(target: Record<string, unknown>, source: Readonly<Record<string, unknown>>): void {
  for (const key of Object.keys(source)) {
    Object.defineProperty(target, key, { value: source[key], writable: true, enumerable: true, configurable: true });
  }
}
