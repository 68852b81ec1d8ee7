/** Whether `value` is a promise or any other object with a `then` function, as `await` treats it. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === "function";
}
