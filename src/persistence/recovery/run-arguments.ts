import { rejectUnknownKeys, requireOptionalSignal, requireOptionsObject } from "../../internal/validate.js";

// The arguments of the coordinator's calls, checked before anything is read or claimed (its filter
// as every shipped provider's list() checks it, in list-options.ts).

/** Throws `TypeError` naming `what` unless `value` is a `RecoveryRunOptions` (or undefined). */
export function requireRunOptions(value: unknown, what: string): void {
  const options = requireOptionsObject(value, what);
  rejectUnknownKeys(options, ["signal"], what);
  requireOptionalSignal(options.signal, `${what}.signal`);
}
