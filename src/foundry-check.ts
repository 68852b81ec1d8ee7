import { emitEvent, execute, type Foundry } from "./foundry.js";
import { describe } from "./internal/validate.js";

/**
 * Throws `TypeError` unless `value` is a foundry made by this copy's `createFoundry`. An import and
 * a require of the package load one copy each, and a foundry of the other copy lacks this copy's
 * hooks: its runs would fail at the first one, far from the mistake. `what` names the value, with
 * the call or option that handed it over ("usePersistence(foundry, provider, options): foundry").
 */
export function requireFoundry(value: unknown, what: string): asserts value is Foundry<any> {
  const hooks = value as Partial<Foundry<any>> | undefined;
  if (typeof hooks?.use !== "function") throw new TypeError(`${what} must be created with createFoundry(), got ${describe(value)}`);
  if (typeof hooks[execute] !== "function" || typeof hooks[emitEvent] !== "function") {
    throw new TypeError(`${what} was created by another copy of workflowforge (an import and a require of the package load one copy each): create it with the createFoundry of the copy this call comes from`);
  }
}
