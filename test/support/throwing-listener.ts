// For push listeners that throw: the library must call them again and let nothing they throw escape.

/** Errors that reach the process as uncaught exceptions or unhandled rejections, until `stop()`. */
export function escaping(): { readonly errors: unknown[]; stop(): void } {
  const errors: unknown[] = [];
  const record = (error: unknown): void => void errors.push(error);
  process.on("uncaughtException", record);
  process.on("unhandledRejection", record);
  return {
    errors,
    stop: () => {
      process.removeListener("uncaughtException", record);
      process.removeListener("unhandledRejection", record);
    },
  };
}

/** A listener that counts its calls and throws on each; `next()` resolves at the call after it. */
export function throwingListener(): { readonly listener: () => never; readonly calls: () => number; readonly next: () => Promise<void> } {
  let calls = 0;
  let heard: (() => void) | undefined;
  return {
    listener: () => {
      calls++;
      heard?.();
      heard = undefined;
      throw new Error("listener failed");
    },
    calls: () => calls,
    next: () => new Promise<void>((resolve) => (heard = resolve)),
  };
}
