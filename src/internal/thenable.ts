/** Whether `value` is a promise or any other object with a `then` function, as `await` treats it. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === "function";
}

/** What `start` returns (undefined when done synchronously) as a promise, a synchronous throw included. */
export async function settled(start: () => PromiseLike<unknown> | undefined): Promise<void> {
  await start();
}
