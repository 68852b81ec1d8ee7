import { sleep } from "../abort.js";
import { requireDelayMs, requireName, requireNonNegativeInteger } from "../internal/validate.js";
import type { Operation } from "../types.js";

/** Waits `ms` milliseconds and passes its input through. Rejects as soon as the run aborts. */
export function delay<T = any>(name: string, ms: number): Operation<T, T> {
  requireName(name, "delay(name)");
  requireNonNegativeInteger(ms, `delay "${name}": ms`);
  requireDelayMs(ms, `delay "${name}": ms`);
  return {
    name,
    async forge(input: T, foundry, signal): Promise<T> {
      await sleep(ms, signal, { workflowName: foundry.name, operationName: name });
      return input;
    },
  };
}
