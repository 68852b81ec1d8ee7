import { sleep } from "../abort.js";
import { requireDelayMs, requireName } from "../internal/validate.js";
import type { Operation } from "../types.js";

/** Waits `ms` milliseconds and passes its input through. Rejects as soon as the run aborts. */
export function delay<T = any>(name: string, ms: number): Operation<T, T> {
  requireName(name, "delay(name)");
  // The timer's limit first: a count past it is refused naming that limit, not the integers'.
  requireDelayMs(ms, `delay "${name}": ms`);
  if (!Number.isInteger(ms)) throw new TypeError(`delay "${name}": ms must be a whole number of milliseconds, got ${String(ms)}`);
  return {
    name,
    async forge(input: T, foundry, signal): Promise<T> {
      await sleep(ms, signal, { workflowName: foundry.name, operationName: name });
      return input;
    },
  };
}
