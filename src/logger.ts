import type { Logger } from "./types.js";

const noop = (): void => {};

/** The default logger: says nothing. Pass `console` (or any console-like object) to see logs. */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });
