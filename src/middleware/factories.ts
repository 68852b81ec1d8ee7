// The library's middleware factories. Passed to use() without being called, a factory is itself a
// function, so it would be taken for a middleware: every operation's chain would call it as
// `factory(context, next)`, get a middleware back as the operation's output, and run nothing.

const factories = new Map<unknown, string>();

/** Marks `factory` as one, with the call a user should have written (`loggingMiddleware()`). */
export function markFactory(factory: (...args: never[]) => unknown, call: string): void {
  factories.set(factory, call);
}

/** Throws TypeError, saying how to call it, when `value` is a middleware factory rather than a middleware. */
export function refuseFactory(value: unknown, where: string): void {
  const call = factories.get(value);
  if (call !== undefined) throw new TypeError(`${where}: got the factory ${call.slice(0, call.indexOf("("))} itself; pass the middleware it returns: use(${call})`);
}
