/**
 * A Node.js built-in module, lent by `process.getBuiltinModule` (Node 20.16+ and 22.3+) without an
 * import: the core imports no `node:` module, so that it still loads where there is none. Undefined
 * where the runtime lends none or refuses `id`. Its members are not checked: test each before use.
 */
export function nodeBuiltin<T extends object>(id: string): Partial<T> | undefined {
  const host = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    const module: unknown = host?.getBuiltinModule?.(id);
    // node:events is a function (EventEmitter) with the module's members on it.
    return (typeof module === "object" && module !== null) || typeof module === "function" ? module : undefined;
  } catch {
    return undefined;
  }
}
