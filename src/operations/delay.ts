import { requireDelayMs, requireName } from "../internal/validate.js";
import type { Operation } from "../types.js";
import { waitInProcess } from "../waits.js";

/**
 * Waits `ms` milliseconds on the foundry's clock (a test clock makes it pass at once) and passes
 * its input through. Rejects as soon as the run aborts. In process only: a crash loses the wait.
 */
export function delay<T = any>(name: string, ms: number): Operation<T, T> {
  requireName(name, "delay(name)");
  // The timer's limit first: a count past it is refused naming that limit, not the integers'.
  requireDelayMs(ms, `delay "${name}": ms`);
  if (!Number.isInteger(ms)) throw new TypeError(`delay "${name}": ms must be a whole number of milliseconds, got ${String(ms)}`);
  return {
    name,
    async forge(input: T, foundry, signal): Promise<T> {
      // A sleep in process, as a wait without persistence is: on the foundry's clock, its abort the operation's.
      return (await waitInProcess({ kind: "sleep", ms }, input, foundry.clock, signal, { workflowName: foundry.name, operationName: name })) as T;
    },
  };
}
